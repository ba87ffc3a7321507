/* The CUDA IPC entry points and the stream memory operations, added to backend-cuda's fake device
 * (src/test/native/fake_device.c there, linked into the same fake libcuda.so.1) for the engine server's test of
 * stream-ordered calls without a GPU: an opened memory handle is a zeroed host buffer of 1 MiB, an event handle is 64
 * bytes naming the event, an opened event handle a new event; registered host memory's device address is its host
 * address (unified addressing), a queued write lands at once (the fake stream has nothing before it), a queued wait
 * is counted and passes. Counted like the device's entry points (fake_ipc_calls), since the process started. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct { unsigned char reserved[64]; } fake_ipc_handle;
enum { I_OPEN_MEM, I_CLOSE_MEM, I_GET_EVENT, I_OPEN_EVENT, I_HOST_DEVICE_POINTER, I_WAIT_VALUE, I_WRITE_VALUE, I_N };
static const char* const IPC_NAMES[I_N] = {"cuIpcOpenMemHandle_v2", "cuIpcCloseMemHandle", "cuIpcGetEventHandle",
                                           "cuIpcOpenEventHandle", "cuMemHostGetDevicePointer_v2",
                                           "cuStreamWaitValue32_v2", "cuStreamWriteValue32_v2"};
static long ipc_calls[I_N];

long fake_ipc_calls(const char* name) {
  for (int i = 0; i < I_N; i++) if (strcmp(IPC_NAMES[i], name) == 0) return ipc_calls[i];
  return -1;
}

int cuIpcOpenMemHandle_v2(unsigned long long* ptr, fake_ipc_handle handle, unsigned flags) {
  (void)handle; (void)flags;
  ipc_calls[I_OPEN_MEM]++;
  void* m = calloc(1, 1 << 20);
  if (!m) return 2;
  *ptr = (unsigned long long)(uintptr_t)m;
  return 0;
}
int cuIpcCloseMemHandle(unsigned long long ptr) { ipc_calls[I_CLOSE_MEM]++; free((void*)(uintptr_t)ptr); return 0; }
int cuIpcGetEventHandle(fake_ipc_handle* handle, void* event) {
  ipc_calls[I_GET_EVENT]++;
  memset(handle->reserved, 0, 64);
  memcpy(handle->reserved, &event, sizeof event);
  return 0;
}
int cuIpcOpenEventHandle(void** event, fake_ipc_handle handle) {
  (void)handle;
  ipc_calls[I_OPEN_EVENT]++;
  *event = malloc(1);
  return *event ? 0 : 2;
}

int cuMemHostGetDevicePointer_v2(unsigned long long* d, void* p, unsigned flags) {
  ipc_calls[I_HOST_DEVICE_POINTER]++;
  if (flags != 0) return 1; /* CUDA_ERROR_INVALID_VALUE, as the driver answers */
  *d = (unsigned long long)(uintptr_t)p;
  return 0;
}
int cuStreamWaitValue32_v2(void* s, unsigned long long addr, unsigned value, unsigned flags) {
  (void)s; (void)addr; (void)value;
  ipc_calls[I_WAIT_VALUE]++;
  return flags == 0 ? 0 : 1; /* CU_STREAM_WAIT_VALUE_GEQ only */
}
int cuStreamWriteValue32_v2(void* s, unsigned long long addr, unsigned value, unsigned flags) {
  (void)s;
  ipc_calls[I_WRITE_VALUE]++;
  if (flags != 0) return 1;
  *(volatile unsigned*)(uintptr_t)addr = value;
  return 0;
}
