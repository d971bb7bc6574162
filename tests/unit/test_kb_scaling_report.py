"""The KB build bench's judgement (tests/bench/kb_scaling.py): a missed goal must show as False (the bench
then exits non-zero), a size not run as None, and the extrapolation must follow the measured rates."""

from __future__ import annotations

from tests.bench.kb_scaling import extrapolation, verdicts


def row(mb, build, prepare, two, rss, equal=True, summed=None, p50=10.0):
    memory = {"max_process_rss_mb": rss, "sum_rss_peak_mb": summed or rss}
    return {"xml_mb": mb, "build_1": {"seconds": build, "mb_per_s_per_process": round(mb / build, 2), **memory},
            "build_2": dict(memory), "serving": {"p50_ms": p50, "p99_ms": 3 * p50},
            "prepare_1": {"seconds": prepare}, "speedup_2": round(build / two, 2),
            "build_to_prepare": round(build / prepare, 2), "kb_sha256_equal": equal, "links": 714_000,
            "shards_4": {"serial_seconds": 7.14}}


def test_verdicts_judge_only_the_sizes_run():
    rows = {"8x": row(52, 10, 8, 5.5, 300), "32x": row(208, 40, 30, 22, 400), "128x": row(830, 160, 120, 88, 700)}
    assert verdicts(rows) == {"kb_bytes_equal_1_2_and_4_shards": True, "speedup_2_processes": True,
                              "build_to_prepare_32x": True, "peak_128x_within_1_5x_of_32x": False,
                              "annotation_p50_flat_across_kb_sizes": True}
    # the largest process within the goal, every process together not (the forked workers add up): missed
    rows["128x"] = row(830, 160, 120, 88, 500, summed=900)
    rows["32x"]["build_1"]["sum_rss_peak_mb"] = rows["32x"]["build_2"]["sum_rss_peak_mb"] = 500
    assert verdicts(rows)["peak_128x_within_1_5x_of_32x"] is False
    rows["128x"] = row(830, 160, 120, 88, 500, summed=700, p50=16.0)  # both peaks in; annotation slower by 1.6x
    judged = verdicts(rows)
    assert judged["peak_128x_within_1_5x_of_32x"] is True and judged["annotation_p50_flat_across_kb_sizes"] is False
    rows["32x"] = row(208, 60, 30, 40, 400, equal=False)
    judged = verdicts({k: rows[k] for k in ("8x", "32x")})
    assert judged["kb_bytes_equal_1_2_and_4_shards"] is False and judged["build_to_prepare_32x"] is False
    assert judged["speedup_2_processes"] is False and judged["peak_128x_within_1_5x_of_32x"] is None
    assert verdicts({"8x": row(52, 10, 8, 5.5, 300)})["build_to_prepare_32x"] is None


def test_extrapolation_is_labelled_and_follows_the_rates():
    table = extrapolation(row(208, 40, 30, 20, 400))  # 5.2 MB/s per process, 2 processes at 100 %
    assert "not measured" in table["label"]
    serial = 7.14 / 714_000 * 180e6  # 1800 s
    assert table["serial_seconds_for_180M_links"] == round(serial)
    assert table["one_instance_32_vcpu"]["hours"] == round((95_000 / (5.2 * 32) + serial) / 3600, 2)
    four = table["4_instances_32_vcpu"]
    assert abs(four["instance_hours"] - four["hours"] * 4) < 0.1 and four["hours"] < table["one_instance_32_vcpu"]["hours"]
