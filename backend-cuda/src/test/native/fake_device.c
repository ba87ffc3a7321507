/* A stand-in for libcuda.so.1 that answers as an H100 would and does nothing: every driver entry point the
 * backend binds succeeds at once, device memory is host memory (so uploads and downloads really copy), kernels
 * are not run. It lets the Java host path of an op (facade, backend, launch) run and be timed without a GPU,
 * and it counts every call per entry point, so that a test can say which driver calls one op makes
 * (fake_cu_calls, fake_cu_reset; read through FFM by HostPathMain). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
  C_INIT, C_VERSION, C_COUNT, C_DEVICE_GET, C_ATTRIBUTE, C_NAME, C_TOTAL_MEM, C_ERROR_NAME, C_ERROR_STRING,
  C_CTX_RETAIN, C_CTX_RELEASE, C_CTX_SET, C_CTX_GET, C_CTX_SYNC,
  C_MODULE_LOAD, C_MODULE_UNLOAD, C_GET_FUNCTION, C_FUNC_GET_ATTRIBUTE, C_FUNC_SET_ATTRIBUTE, C_OCCUPANCY, C_LAUNCH,
  C_MEM_ALLOC, C_MEM_FREE, C_MEM_INFO, C_HOST_REGISTER, C_HOST_UNREGISTER,
  C_HTOD, C_HTOD_ASYNC, C_DTOH, C_DTOH_ASYNC, C_DTOD, C_DTOD_ASYNC, C_MEMSET32, C_MEMSET32_ASYNC, C_MEMSET8,
  C_MEMSET8_ASYNC,
  C_STREAM_CREATE, C_STREAM_DESTROY, C_STREAM_SYNC, C_STREAM_WAIT_EVENT,
  C_EVENT_CREATE, C_EVENT_DESTROY, C_EVENT_RECORD, C_EVENT_SYNC, C_EVENT_ELAPSED,
  C_N
};

static const char* const NAMES[C_N] = {
  "cuInit", "cuDriverGetVersion", "cuDeviceGetCount", "cuDeviceGet", "cuDeviceGetAttribute", "cuDeviceGetName",
  "cuDeviceTotalMem_v2", "cuGetErrorName", "cuGetErrorString",
  "cuDevicePrimaryCtxRetain", "cuDevicePrimaryCtxRelease_v2", "cuCtxSetCurrent", "cuCtxGetCurrent", "cuCtxSynchronize",
  "cuModuleLoadData", "cuModuleUnload", "cuModuleGetFunction", "cuFuncGetAttribute", "cuFuncSetAttribute",
  "cuOccupancyMaxActiveBlocksPerMultiprocessor", "cuLaunchKernel",
  "cuMemAlloc_v2", "cuMemFree_v2", "cuMemGetInfo_v2", "cuMemHostRegister_v2", "cuMemHostUnregister",
  "cuMemcpyHtoD_v2", "cuMemcpyHtoDAsync_v2", "cuMemcpyDtoH_v2", "cuMemcpyDtoHAsync_v2", "cuMemcpyDtoD_v2",
  "cuMemcpyDtoDAsync_v2", "cuMemsetD32_v2", "cuMemsetD32Async", "cuMemsetD8_v2", "cuMemsetD8Async",
  "cuStreamCreate", "cuStreamDestroy_v2", "cuStreamSynchronize", "cuStreamWaitEvent",
  "cuEventCreate", "cuEventDestroy_v2", "cuEventRecord", "cuEventSynchronize", "cuEventElapsedTime_v2",
};

/* One thread calls at a time in the tests that read these; plain counters keep the fake's own cost tiny. */
static long calls[C_N];

long fake_cu_calls(const char* name) {
  for (int i = 0; i < C_N; i++) if (strcmp(NAMES[i], name) == 0) return calls[i];
  return -1;
}

void fake_cu_reset(void) { memset(calls, 0, sizeof calls); }

#define COUNT(c) (calls[c]++)

/* Handles: distinct non-null addresses. */
static char context_handle, module_handle, stream_handle;
static const size_t TOTAL = 85520809984ULL; /* an H100 80GB HBM3 as cuDeviceTotalMem reports it */
static size_t live;

int cuInit(unsigned flags) { (void)flags; COUNT(C_INIT); return 0; }
int cuDriverGetVersion(int* v) { COUNT(C_VERSION); *v = 13000; return 0; }
int cuDeviceGetCount(int* n) { COUNT(C_COUNT); *n = 1; return 0; }
int cuDeviceGet(int* dev, int ordinal) { COUNT(C_DEVICE_GET); *dev = ordinal; return 0; }
int cuDeviceGetAttribute(int* v, int attribute, int dev) {
  (void)dev;
  COUNT(C_ATTRIBUTE);
  switch (attribute) {
    case 5: *v = 2147483647; break;  /* MAX_GRID_DIM_X */
    case 8: *v = 49152; break;       /* MAX_SHARED_MEMORY_PER_BLOCK */
    case 16: *v = 132; break;        /* MULTIPROCESSOR_COUNT */
    case 75: *v = 9; break;          /* COMPUTE_CAPABILITY_MAJOR */
    case 76: *v = 0; break;          /* COMPUTE_CAPABILITY_MINOR */
    case 97: *v = 232448; break;     /* MAX_SHARED_MEMORY_PER_BLOCK_OPTIN */
    default: *v = 0;
  }
  return 0;
}
int cuDeviceGetName(char* name, int len, int dev) {
  (void)dev;
  COUNT(C_NAME);
  strncpy(name, "NVIDIA H100 80GB HBM3 (fake driver)", (size_t)len);
  name[len - 1] = 0;
  return 0;
}
int cuDeviceTotalMem_v2(size_t* bytes, int dev) { (void)dev; COUNT(C_TOTAL_MEM); *bytes = TOTAL; return 0; }
int cuGetErrorName(int status, const char** s) {
  COUNT(C_ERROR_NAME);
  *s = status == 1 ? "CUDA_ERROR_INVALID_VALUE" : status == 2 ? "CUDA_ERROR_OUT_OF_MEMORY" : "CUDA_ERROR_UNKNOWN";
  return 0;
}
int cuGetErrorString(int status, const char** s) {
  COUNT(C_ERROR_STRING);
  *s = status == 1 ? "invalid argument" : status == 2 ? "out of memory" : "unknown error";
  return 0;
}

int cuDevicePrimaryCtxRetain(void** ctx, int dev) { (void)dev; COUNT(C_CTX_RETAIN); *ctx = &context_handle; return 0; }
int cuDevicePrimaryCtxRelease_v2(int dev) { (void)dev; COUNT(C_CTX_RELEASE); return 0; }
int cuCtxSetCurrent(void* ctx) { (void)ctx; COUNT(C_CTX_SET); return 0; }
int cuCtxGetCurrent(void** ctx) { COUNT(C_CTX_GET); *ctx = &context_handle; return 0; }
int cuCtxSynchronize(void) { COUNT(C_CTX_SYNC); return 0; }

int cuModuleLoadData(void** module, const void* image) { (void)image; COUNT(C_MODULE_LOAD); *module = &module_handle; return 0; }
int cuModuleUnload(void* module) { (void)module; COUNT(C_MODULE_UNLOAD); return 0; }
/* A function handle is a copy of its name (kept for the life of the process, as the module's are). */
int cuModuleGetFunction(void** fn, void* module, const char* name) {
  (void)module;
  COUNT(C_GET_FUNCTION);
  *fn = strdup(name);
  return *fn ? 0 : 2;
}
int cuFuncGetAttribute(int* v, int attribute, void* fn) {
  (void)fn;
  COUNT(C_FUNC_GET_ATTRIBUTE);
  *v = attribute == 0 ? 1024 : attribute == 4 ? 64 : 0; /* MAX_THREADS_PER_BLOCK, NUM_REGS; no static shared memory */
  return 0;
}
int cuFuncSetAttribute(void* fn, int attribute, int value) { (void)fn; (void)attribute; (void)value; COUNT(C_FUNC_SET_ATTRIBUTE); return 0; }
int cuOccupancyMaxActiveBlocksPerMultiprocessor(int* n, void* fn, int block, size_t smem) {
  (void)fn; (void)block; (void)smem;
  COUNT(C_OCCUPANCY);
  *n = 2;
  return 0;
}
/* Checks what the real driver would refuse outright (the fault tests' invalid block size), runs nothing. */
int cuLaunchKernel(void* f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                   unsigned smem, void* stream, void** params, void** extra) {
  (void)stream; (void)extra;
  COUNT(C_LAUNCH);
  if (getenv("FAKE_CU_TRACE")) {
    /* the function handle is its name (cuModuleGetFunction above); the first argument's first 16 fields */
    fprintf(stderr, "launch %s grid %u block %u smem %u", f ? (const char*)f : "?", gx, bx, smem);
    if (params && params[0]) {
      const long long* p = (const long long*)params[0];
      for (int i = 10; i < 16; i++) fprintf(stderr, " %lld", p[i]);
    }
    if (params && params[1]) fprintf(stderr, " extra %lld", *(const long long*)params[1]);
    fprintf(stderr, "\n");
  }
  if (!f || !params || gx == 0 || gy == 0 || gz == 0 || (size_t)bx * by * bz > 1024 || bx * by * bz == 0
      || smem > 232448) {
    return 1;
  }
  return 0;
}

/* 256 bytes before each allocation hold its size, so that frees give it back to the free memory reported. */
int cuMemAlloc_v2(unsigned long long* p, size_t bytes) {
  COUNT(C_MEM_ALLOC);
  void* m = NULL;
  if (bytes > TOTAL - live || posix_memalign(&m, 256, bytes + 256) != 0) return 2;
  *(size_t*)m = bytes;
  live += bytes;
  *p = (unsigned long long)(size_t)((char*)m + 256);
  return 0;
}
int cuMemFree_v2(unsigned long long p) {
  COUNT(C_MEM_FREE);
  if (p == 0) return 0;
  char* m = (char*)(size_t)p - 256;
  live -= *(size_t*)m;
  free(m);
  return 0;
}
int cuMemGetInfo_v2(size_t* free_bytes, size_t* total) { COUNT(C_MEM_INFO); *free_bytes = TOTAL - live; *total = TOTAL; return 0; }
int cuMemHostRegister_v2(void* p, size_t bytes, unsigned flags) { (void)p; (void)bytes; (void)flags; COUNT(C_HOST_REGISTER); return 0; }
int cuMemHostUnregister(void* p) { (void)p; COUNT(C_HOST_UNREGISTER); return 0; }

#define PTR(x) ((void*)(size_t)(x))
int cuMemcpyHtoD_v2(unsigned long long d, const void* s, size_t n) { COUNT(C_HTOD); memcpy(PTR(d), s, n); return 0; }
int cuMemcpyHtoDAsync_v2(unsigned long long d, const void* s, size_t n, void* st) { (void)st; COUNT(C_HTOD_ASYNC); memcpy(PTR(d), s, n); return 0; }
int cuMemcpyDtoH_v2(void* d, unsigned long long s, size_t n) { COUNT(C_DTOH); memcpy(d, PTR(s), n); return 0; }
int cuMemcpyDtoHAsync_v2(void* d, unsigned long long s, size_t n, void* st) { (void)st; COUNT(C_DTOH_ASYNC); memcpy(d, PTR(s), n); return 0; }
int cuMemcpyDtoD_v2(unsigned long long d, unsigned long long s, size_t n) { COUNT(C_DTOD); memmove(PTR(d), PTR(s), n); return 0; }
int cuMemcpyDtoDAsync_v2(unsigned long long d, unsigned long long s, size_t n, void* st) { (void)st; COUNT(C_DTOD_ASYNC); memmove(PTR(d), PTR(s), n); return 0; }
int cuMemsetD32_v2(unsigned long long d, unsigned v, size_t n) {
  COUNT(C_MEMSET32);
  for (size_t i = 0; i < n; i++) ((unsigned*)PTR(d))[i] = v;
  return 0;
}
int cuMemsetD32Async(unsigned long long d, unsigned v, size_t n, void* st) {
  (void)st;
  COUNT(C_MEMSET32_ASYNC);
  for (size_t i = 0; i < n; i++) ((unsigned*)PTR(d))[i] = v;
  return 0;
}
int cuMemsetD8_v2(unsigned long long d, unsigned char v, size_t n) { COUNT(C_MEMSET8); memset(PTR(d), v, n); return 0; }
int cuMemsetD8Async(unsigned long long d, unsigned char v, size_t n, void* st) { (void)st; COUNT(C_MEMSET8_ASYNC); memset(PTR(d), v, n); return 0; }

int cuStreamCreate(void** s, unsigned flags) { (void)flags; COUNT(C_STREAM_CREATE); *s = &stream_handle; return 0; }
int cuStreamDestroy_v2(void* s) { (void)s; COUNT(C_STREAM_DESTROY); return 0; }
int cuStreamSynchronize(void* s) { (void)s; COUNT(C_STREAM_SYNC); return 0; }
int cuStreamWaitEvent(void* s, void* e, unsigned flags) { (void)s; (void)e; (void)flags; COUNT(C_STREAM_WAIT_EVENT); return 0; }

int cuEventCreate(void** e, unsigned flags) { (void)flags; COUNT(C_EVENT_CREATE); *e = malloc(1); return *e ? 0 : 2; }
int cuEventDestroy_v2(void* e) { COUNT(C_EVENT_DESTROY); free(e); return 0; }
int cuEventRecord(void* e, void* s) { (void)e; (void)s; COUNT(C_EVENT_RECORD); return 0; }
int cuEventSynchronize(void* e) { (void)e; COUNT(C_EVENT_SYNC); return 0; }
int cuEventElapsedTime_v2(float* ms, void* a, void* b) { (void)a; (void)b; COUNT(C_EVENT_ELAPSED); *ms = 0.001f; return 0; }
