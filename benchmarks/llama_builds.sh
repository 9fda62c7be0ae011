#!/usr/bin/env bash
# llama.cpp builds for benchmarks/llama_builds.py: the library folders of the same llama-cpp-python release built with
# more of this CPU's SIMD paths than the portable build fcot installs (CMAKE_ARGS="-DGGML_NATIVE=OFF": AVX2, FMA, F16C).
#   benchmarks/llama_builds.sh            # -> fcot-out/llama-builds/{avx512,native}/bin (~5 min each on 2 cores)
# avx512: AVX512 F/VBMI/VNNI/BF16 and AVX-VNNI, no AMX; native: GGML_NATIVE=ON (AMX too where the CPU has it).
set -euo pipefail
version=$(.venv/bin/python -c "import importlib.metadata as m; print(m.version('llama_cpp_python'))")
out=fcot-out/llama-builds
mkdir -p "$out"
[ -d "$out/src" ] || { .venv/bin/pip download -q --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$out" &&
  mkdir -p "$out/src" && tar xzf "$out/llama_cpp_python-$version.tar.gz" -C "$out/src" --strip-components=1; }
common=(-DBUILD_SHARED_LIBS=ON -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF
        -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF)
declare -A flags=(
  [avx512]="-DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON -DGGML_BMI2=ON -DGGML_AVX_VNNI=ON
            -DGGML_AVX512=ON -DGGML_AVX512_VBMI=ON -DGGML_AVX512_VNNI=ON -DGGML_AVX512_BF16=ON"
  [native]="-DGGML_NATIVE=ON")
for name in avx512 native; do
  # shellcheck disable=SC2086
  cmake -S "$out/src/vendor/llama.cpp" -B "$out/$name" "${common[@]}" ${flags[$name]} > "$out/$name.log"
  cmake --build "$out/$name" -j2 --target llama >> "$out/$name.log"
done
