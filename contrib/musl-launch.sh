#!/bin/sh
# contrib/musl-launch.sh: CMake's compiler launcher for kiln-shim
# (RULE_LAUNCH_COMPILE and RULE_LAUNCH_LINK in CMakeLists.txt): runs
#   musl-launch.sh MUSL_GCC COMPILER ARGS...
# as MUSL_GCC ARGS..., so the shim is built against musl instead of the
# C library the rest of kiln uses.
musl=$1
shift 2
exec "$musl" "$@"
