"""benchmarks.seq2seq_decode runs end to end on tiny shapes, and its decoding loops agree."""

from benchmarks import seq2seq_decode


def test_tiny_run_decodes_the_same_tokens_every_way():
    result = seq2seq_decode.run(batch=2, src_len=8, new_tokens=3, d_model=16, heads=2, layers=1, vocab=11,
                                repeats=1)
    assert result["same_tokens"]
    assert [row["case"] for row in result["rows"]] == ["scan/memory_kv", "scan/reproject", "step/memory_kv",
                                                       "step/reproject"]
    assert all(row["ms"] > 0 for row in result["rows"])


def test_tiny_search_run_decodes_the_same_tokens_with_the_cache_and_recomputing():
    result = seq2seq_decode.run_search(batch=2, src_len=5, new_tokens=3, d_model=16, heads=2, layers=1, vocab=11,
                                       beam_width=2, repeats=1)
    assert result["same_tokens"]
    assert len(result["rows"]) == 8 and all(row["ms"] > 0 for row in result["rows"])
