# sanitizer_env.bash — sourced by the shell tests that load libpdiff into a
# program the build did not make (python, a compiled example).
# sanitized_build BUILD_DIR: true when BUILD_DIR is an ASan + UBSan build;
# then SANITIZER_PRELOAD holds the runtimes such a program must load first.
sanitized_build() {
  grep -q '^PDIFF_SANITIZE:BOOL=ON' "$1/CMakeCache.txt" 2>/dev/null || return 1
  SANITIZER_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)"
}
