#!/usr/bin/env bash
# The InstallConsumer test (tests/CMakeLists.txt): installs the build tree into a temporary
# prefix (cmake --install), checks what lies there, configures tests/consumer against it with
# find_package(annforge) and the main build's compilers, builds and runs its C++ and C programs
# (each against the shared and the static library, and the C++ one again from a project that
# enables C++ alone), then compiles and runs the C program through
# `pkg-config --cflags --libs annforge` (shared) and `--static` (libannforge.a). The temporary
# folder is removed at the end, pass or fail.
#   run_consumer.sh SETTINGS   (a file of shell assignments that tests/CMakeLists.txt writes)
set -euo pipefail

settings=${1:?usage: run_consumer.sh SETTINGS}
# shellcheck source=/dev/null
source "$settings"

work=$(mktemp -d "${TMPDIR:-/tmp}/annforge-install-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
prefix=$work/prefix
log=$work/log
start=$SECONDS

fail() {
  echo "InstallConsumer: FAIL: $*"
  exit 1
}
step() {  # step DESCRIPTION COMMAND...: runs the command with its output in $log
  local what=$1
  shift
  if ! "$@" >"$log" 2>&1; then
    echo "InstallConsumer: FAIL: $what; its output:"
    tail -n 60 "$log"
    exit 1
  fi
}

# --- install ---------------------------------------------------------------------------------
step "cmake --install $ANNFORGE_BUILD_DIR" \
  "$ANNFORGE_CMAKE" --install "$ANNFORGE_BUILD_DIR" --prefix "$prefix" --config "$ANNFORGE_CONFIG"
libdir=$prefix/$ANNFORGE_LIBDIR
for file in "$ANNFORGE_INCLUDEDIR/annforge.hpp" "$ANNFORGE_INCLUDEDIR/annforge_c.h" bin/annforge \
            "$ANNFORGE_LIBDIR/libannforge.a" "$ANNFORGE_LIBDIR/cmake/annforge/annforge-config.cmake" \
            "$ANNFORGE_LIBDIR/cmake/annforge/annforge-config-version.cmake" \
            "$ANNFORGE_LIBDIR/cmake/annforge/annforge-targets.cmake" "$ANNFORGE_LIBDIR/pkgconfig/annforge.pc"; do
  [ -f "$prefix/$file" ] || fail "the install lacks $file"
done
if [ "$ANNFORGE_SHARED" = ON ]; then
  for file in libannforge.so "libannforge.so.$ANNFORGE_SOVERSION" "libannforge.so.$ANNFORGE_VERSION"; do
    [ -e "$libdir/$file" ] || fail "the install lacks $ANNFORGE_LIBDIR/$file"
  done
fi
headers=$(cd "$prefix/$ANNFORGE_INCLUDEDIR" && ls)
expected=$(printf 'annforge.hpp\nannforge_c.h')
# With MPI, the distributed build's two headers as well.
[ "$ANNFORGE_WITH_MPI" = ON ] && expected=$(printf 'annforge.hpp\nannforge_c.h\nannforge_c_mpi.h\nannforge_mpi.hpp')
[ "$headers" = "$expected" ] ||
  fail "the install's headers are not just $(echo $expected): $(echo $headers)"
step "the installed CLI" "$prefix/bin/annforge" gen --n 100 --dim 8 --out "$work/cli.fbin"
[ -s "$work/cli.fbin" ] || fail "the installed CLI wrote no vectors"

# --- the CMake package -----------------------------------------------------------------------
configure=(-G "$ANNFORGE_GENERATOR" -DCMAKE_BUILD_TYPE="$ANNFORGE_CONFIG"
           -DCMAKE_C_COMPILER="$ANNFORGE_C_COMPILER" -DCMAKE_CXX_COMPILER="$ANNFORGE_CXX_COMPILER"
           -DCMAKE_PREFIX_PATH="$prefix${ANNFORGE_PREFIX_PATH:+;$ANNFORGE_PREFIX_PATH}"
           -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if [ -n "$ANNFORGE_MAKE_PROGRAM" ]; then
  configure+=(-DCMAKE_MAKE_PROGRAM="$ANNFORGE_MAKE_PROGRAM")
fi
if [ -n "$ANNFORGE_CUDA_ROOT" ]; then
  configure+=(-DCUDAToolkit_ROOT="$ANNFORGE_CUDA_ROOT")
fi
step "configuring tests/consumer against the install" \
  "$ANNFORGE_CMAKE" -S "$ANNFORGE_SOURCE_DIR/tests/consumer" -B "$work/build" "${configure[@]}"
found=$(sed -n 's/^annforge_DIR:PATH=//p' "$work/build/CMakeCache.txt")
[ "$found" = "$libdir/cmake/annforge" ] || fail "find_package(annforge) found $found, not the install"
step "building tests/consumer" "$ANNFORGE_CMAKE" --build "$work/build" -j 2
for program in consumer_cpp consumer_c consumer_cpp_static consumer_c_static; do
  step "$program" "$work/build/$program"
  echo "$program -> $(tail -n 1 "$log" | sed "s/^[a-z_]*: //")"
done
# The distributed build through the package, on 2 ranks.
if [ "$ANNFORGE_WITH_MPI" = ON ]; then
  [ -x "$work/build/consumer_mpi" ] || fail "annforge was built with MPI, but annforge::annforge_mpi gave no consumer_mpi"
  if [ -n "$ANNFORGE_MPIEXEC" ]; then
    step "consumer_mpi on 2 ranks" "$ANNFORGE_SOURCE_DIR/tests/mpi/run_mpi.sh" "$ANNFORGE_MPIEXEC" 2 "$work/build/consumer_mpi"
    echo "consumer_mpi -> $(grep consumer_mpi "$log" | tail -n 1 | sed "s/^[a-z_]*: //")"
  fi
fi
# A project that enables C++ alone.
step "configuring tests/consumer with C++ alone" \
  "$ANNFORGE_CMAKE" -S "$ANNFORGE_SOURCE_DIR/tests/consumer" -B "$work/build-cxx" "${configure[@]}" \
  -DCONSUMER_CXX_ONLY=ON
step "building tests/consumer with C++ alone" "$ANNFORGE_CMAKE" --build "$work/build-cxx" -j 2
step "consumer_cpp_static (C++ alone)" "$work/build-cxx/consumer_cpp_static"
echo "consumer_cpp_static, C++ alone -> $(tail -n 1 "$log" | sed "s/^[a-z_]*: //")"
if command -v ldd >/dev/null 2>&1; then
  # ldd's whole output first: `ldd | grep -q` fails under pipefail when grep stops reading early.
  loaded=$(ldd "$work/build/consumer_c")
  if [ "$ANNFORGE_SHARED" = ON ] && ! grep -q "$libdir/libannforge.so.$ANNFORGE_SOVERSION" <<<"$loaded"; then
    fail "consumer_c does not load $libdir/libannforge.so.$ANNFORGE_SOVERSION: $loaded"
  fi
  loaded=$(ldd "$work/build/consumer_c_static")
  if grep -q libannforge <<<"$loaded"; then
    fail "consumer_c_static loads a shared libannforge: $loaded"
  fi
fi

# --- pkg-config ------------------------------------------------------------------------------
if ! command -v pkg-config >/dev/null 2>&1; then
  echo "InstallConsumer: pkg-config not found (Debian: pkgconf); its checks are left out"
else
  export PKG_CONFIG_PATH=$libdir/pkgconfig
  version=$(pkg-config --modversion annforge) || fail "pkg-config does not find annforge in $PKG_CONFIG_PATH"
  [ "$version" = "$ANNFORGE_VERSION" ] || fail "pkg-config reports annforge $version, not $ANNFORGE_VERSION"
  read -r -a cflags <<<"$(pkg-config --cflags annforge)"
  read -r -a libs <<<"$(pkg-config --libs annforge)"
  step "cc consumer.c \$(pkg-config --cflags --libs annforge)" \
    "$ANNFORGE_C_COMPILER" -std=c11 -Wall -Wextra -Werror "${cflags[@]}" \
    "$ANNFORGE_SOURCE_DIR/tests/consumer/consumer.c" -o "$work/consumer_c_pkgconfig" "${libs[@]}"
  step "consumer_c_pkgconfig" env LD_LIBRARY_PATH="$libdir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    "$work/consumer_c_pkgconfig"
  echo "consumer.c with pkg-config -> $(tail -n 1 "$log" | sed "s/^[a-z_]*: //")"
  if [ "$ANNFORGE_WITH_CUDA" = ON ]; then
    # annforge.pc lists the CUDA toolkit's libraries but not RAFT's and RMM's (see cmake/install.cmake).
    echo "InstallConsumer: CUDA build; the static link through pkg-config is left out"
  else
    # --static adds Libs.private; -l:libannforge.a takes the archive even beside libannforge.so.
    read -r -a static_libs <<<"$(pkg-config --static --libs annforge)"
    static_libs=("${static_libs[@]/#-lannforge/-l:libannforge.a}")
    step "cc consumer.c \$(pkg-config --static --cflags --libs annforge)" \
      "$ANNFORGE_C_COMPILER" -std=c11 -Wall -Wextra -Werror "${cflags[@]}" \
      "$ANNFORGE_SOURCE_DIR/tests/consumer/consumer.c" -o "$work/consumer_c_pkgconfig_static" "${static_libs[@]}"
    step "consumer_c_pkgconfig_static" "$work/consumer_c_pkgconfig_static"
    echo "consumer.c with pkg-config --static -> $(tail -n 1 "$log" | sed "s/^[a-z_]*: //")"
  fi
fi

echo "InstallConsumer: ok ($((SECONDS - start)) s)"
