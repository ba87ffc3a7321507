/* The CUDA IPC entry points, added to backend-cuda's fake device (src/test/native/fake_device.c there, linked into the
 * same fake libcuda.so.1) for the engine server's test of stream-ordered calls without a GPU: an opened memory
 * handle is a zeroed host buffer of 1 MiB, an event handle is 64 bytes naming the event, an opened event handle a
 * new event. Counted like the device's entry points (fake_ipc_calls). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct { unsigned char reserved[64]; } fake_ipc_handle;
enum { I_OPEN_MEM, I_CLOSE_MEM, I_GET_EVENT, I_OPEN_EVENT, I_N };
static const char* const IPC_NAMES[I_N] = {"cuIpcOpenMemHandle_v2", "cuIpcCloseMemHandle", "cuIpcGetEventHandle",
                                           "cuIpcOpenEventHandle"};
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
