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

/* CUDA IPC events (CudaDriver's hand-written downcalls): an event's "address" carries the flags it was created
 * with, its handle is derived from that address, and opening a handle returns a weighted sum of the 64 bytes it
 * received by value, so that the caller can check that the struct went through whole. */
#include <stdint.h>
typedef struct { unsigned char reserved[64]; } fake_ipc_handle;
int cuEventCreate(void** event, unsigned flags) { *event = (void*)(uintptr_t)(0xE000u | flags); return 0; }
int cuIpcGetEventHandle(fake_ipc_handle* handle, void* event) {
  for (int i = 0; i < 64; i++) handle->reserved[i] = (unsigned char)((uintptr_t)event + 3 * i);
  return 0;
}
int cuIpcOpenEventHandle(void** event, fake_ipc_handle handle) {
  if (handle.reserved[0] == 0xFF) return 400; /* CUDA_ERROR_INVALID_HANDLE */
  uintptr_t sum = 0;
  for (int i = 0; i < 64; i++) sum += (uintptr_t)handle.reserved[i] * (uintptr_t)(i + 1);
  *event = (void*)(0x100000u + sum);
  return 0;
}
int cuIpcOpenMemHandle_v2(unsigned long long* ptr, fake_ipc_handle handle, unsigned flags) {
  (void)handle; (void)flags; *ptr = 0; return 1;
}
int cuIpcCloseMemHandle(unsigned long long ptr) { (void)ptr; return 0; }

/* Stream memory operations (CudaDriver's hand-written downcalls): registration encodes its flags in the device
 * address it gives (host address + flags << 40), a write lands at once in host memory, and a wait that would not pass
 * at once in cyclic order ((int32_t)(word - value) >= 0) is refused, so that a caller can check what went through. */
#define FLAG_SHIFT 40
static unsigned registered_flags;
int cuMemHostRegister_v2(void* p, size_t bytes, unsigned flags) { (void)p; (void)bytes; registered_flags = flags; return 0; }
int cuMemHostUnregister(void* p) { (void)p; registered_flags = 0; return 0; }
int cuMemHostGetDevicePointer_v2(unsigned long long* d, void* p, unsigned flags) {
  if (flags != 0) return 1;
  *d = (unsigned long long)(uintptr_t)p + ((unsigned long long)registered_flags << FLAG_SHIFT);
  return 0;
}
static volatile unsigned* host_word(unsigned long long addr) {
  return (volatile unsigned*)(uintptr_t)(addr - ((unsigned long long)registered_flags << FLAG_SHIFT));
}
int cuStreamWaitValue32_v2(void* s, unsigned long long addr, unsigned value, unsigned flags) {
  (void)s;
  if (flags != 0) return 1;
  return (int)(*host_word(addr) - value) >= 0 ? 0 : 1;
}
int cuStreamWriteValue32_v2(void* s, unsigned long long addr, unsigned value, unsigned flags) {
  (void)s;
  if (flags != 0) return 1;
  *host_word(addr) = value;
  return 0;
}
