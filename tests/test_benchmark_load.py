"""The benchmarks' machine-load line: CPU other processes used during the timed work."""

from benchmarks.common import LoadSnapshot, load_line, load_now, other_cores


def test_other_cores_is_machine_cpu_minus_own_cpu_over_wall_time() -> None:
    before = LoadSnapshot(wall_s=10.0, machine_busy_s=100.0, own_cpu_s=5.0, load_average=3.0)
    after = LoadSnapshot(wall_s=12.0, machine_busy_s=104.0, own_cpu_s=7.0, load_average=3.0)
    assert other_cores(before, after) == 1.0
    assert "other jobs shared the machine" in load_line(before, after, threads=1)


def test_quiet_machine_reads_quiet_even_with_a_high_load_average() -> None:
    """A job paused just before the run still weighs on the 1-minute load average; the CPU
    time it used during the run (none) is what counts."""
    before = LoadSnapshot(wall_s=0.0, machine_busy_s=50.0, own_cpu_s=1.0, load_average=2.5)
    after = LoadSnapshot(wall_s=10.0, machine_busy_s=70.1, own_cpu_s=21.0, load_average=2.4)
    assert other_cores(before, after) < 0.25
    assert "nothing else ran" in load_line(before, after, threads=2)


def test_falls_back_to_load_average_without_proc_stat() -> None:
    before = LoadSnapshot(wall_s=0.0, machine_busy_s=None, own_cpu_s=0.0, load_average=0.1)
    after = LoadSnapshot(wall_s=1.0, machine_busy_s=None, own_cpu_s=1.0, load_average=1.2)
    assert other_cores(before, after) is None
    assert "1-minute load average" in load_line(before, after, threads=1)


def test_snapshots_of_this_machine_count_own_work() -> None:
    before = load_now()
    total = sum(i * i for i in range(300_000))
    after = load_now()
    assert total > 0 and after.own_cpu_s > before.own_cpu_s
