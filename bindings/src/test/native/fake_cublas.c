/* A stand-in for libcublas.so.13 (built with that soname) for the test that the facade keeps the
 * library it opened by path loaded: the generated bindings find it by its soname only while it is. */
int cublasGetVersion_v2(void* handle, int* version) {
  (void)handle;
  *version = 130100;
  return 0;
}
