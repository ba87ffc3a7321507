/* A stand-in for libcuda.so.1 so that the facade's probe and error path run without a GPU
 * (jextract's own tests use the same trick). Each answer comes from an environment variable. */
#include <stdlib.h>

static int env_int(const char* name, int fallback) {
  const char* v = getenv(name);
  return v ? atoi(v) : fallback;
}

/* As the real driver, calls other than cuInit and cuDriverGetVersion answer CUDA_ERROR_NOT_INITIALIZED (3)
 * until cuInit succeeded in this copy of the library: a copy unloaded and loaded again has forgotten it. */
static int initialized;

int cuInit(unsigned flags) {
  (void)flags;
  int st = env_int("FAKE_CU_INIT", 0);
  if (st == 0) initialized = 1;
  return st;
}
int cuDriverGetVersion(int* v) { *v = env_int("FAKE_CU_VERSION", 13000); return 0; }
int cuDeviceGetCount(int* n) {
  if (!initialized) return 3;
  *n = env_int("FAKE_CU_COUNT", 1);
  return 0;
}
int cuDeviceGet(int* dev, int ordinal) { *dev = ordinal; return 0; }
int cuDeviceGetAttribute(int* v, int attribute, int dev) {
  (void)dev;
  *v = attribute == 75 ? env_int("FAKE_CU_MAJOR", 9) : attribute == 76 ? env_int("FAKE_CU_MINOR", 0) : 0;
  return 0;
}
int cuGetErrorName(int status, const char** s) {
  *s = status == 100 ? "CUDA_ERROR_NO_DEVICE" : status == 2 ? "CUDA_ERROR_OUT_OF_MEMORY" : "CUDA_ERROR_UNKNOWN";
  return 0;
}
int cuGetErrorString(int status, const char** s) {
  *s = status == 100 ? "no CUDA-capable device is detected" : status == 2 ? "out of memory" : "unknown error";
  return 0;
}
