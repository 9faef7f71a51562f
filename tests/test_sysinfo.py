"""The machine line of every benchmark table names the CPU's notable instruction sets."""

from pixelsmith.sysinfo import cpu_features, machine_summary

AMD_AVX2 = frozenset({"fpu", "sse2", "avx", "avx2", "fma"})
XEON_AMX = frozenset({"avx2", "avx512f", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8",
                      "amx_bf16"})


def test_cpu_features_names_the_vector_extensions_in_a_fixed_order() -> None:
    assert cpu_features(AMD_AVX2) == ["AVX2"]
    assert cpu_features(XEON_AMX) == ["AVX2", "AVX-512", "AVX-512 VNNI", "AVX-512 BF16", "AMX",
                                      "AMX-INT8", "AMX-BF16"]


def test_cpu_features_is_empty_without_flags() -> None:
    assert cpu_features(frozenset()) == []
    assert cpu_features(frozenset({"fpu", "sse2"})) == []


def test_machine_summary_names_cores_and_torch() -> None:
    line = machine_summary()
    assert "cores" in line and "torch" in line
