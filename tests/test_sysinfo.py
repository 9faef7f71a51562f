"""The machine line of every benchmark table names the CPU's notable instruction sets."""

from pixelsmith.sysinfo import cpu_features, machine_summary

AMD_AVX2 = "processor\t: 0\nmodel name\t: AMD EPYC\nflags\t\t: fpu sse2 avx avx2 fma\n"
XEON_AMX = ("processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Processor\n"
            "flags\t\t: avx2 avx512f avx512_vnni avx512_bf16 amx_tile amx_int8 amx_bf16\n")


def test_cpu_features_names_the_vector_extensions_in_a_fixed_order() -> None:
    assert cpu_features(AMD_AVX2) == ["AVX2"]
    assert cpu_features(XEON_AMX) == ["AVX2", "AVX-512", "AVX-512 VNNI", "AVX-512 BF16", "AMX",
                                      "AMX-INT8", "AMX-BF16"]


def test_cpu_features_is_empty_without_a_flags_line() -> None:
    assert cpu_features("") == []
    assert cpu_features("model name\t: something\n") == []


def test_machine_summary_names_cores_and_torch() -> None:
    line = machine_summary()
    assert "cores" in line and "torch" in line
