from __future__ import annotations

from html.parser import HTMLParser

from roots.cli import main
from roots.common.io import read_json


class _Srcs(HTMLParser):
    def __init__(self):
        super().__init__()
        self.srcs = []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.srcs.append(dict(attrs)["src"])


def test_ablation_gives_one_row_per_recipe(shared_data, tmp_path, capsys):
    out = tmp_path / "abl"
    code = main(["ablate", "--input", str(shared_data / "web/warc/dolma_sample-0001.warc.gz"),
                 "--eval", str(shared_data / "lm/wikitext-2/valid.txt.gz"), "--output", str(out),
                 "--recipes", "refinedweb,massivetext,roots", "--workers", "1", "--model", "gpt2-nano",
                 "--block-size", "32", "--batch-size", "4", "--train-steps", "3", "--vocab-size", "512",
                 "--eval-max-bytes", "4000"])
    assert code == 0
    result = read_json(out / "ablation.json")
    assert [r["recipe"] for r in result["results"]] == ["refinedweb", "massivetext", "roots"]
    for row in result["results"]:
        assert 0 < row["bits_per_byte"] < 20
        for link in row["links"].values():  # data run -> tokenizer -> model -> eval all exist
            assert (tmp_path / link).exists() or __import__("pathlib").Path(link).exists()
        eval_report = read_json(__import__("pathlib").Path(row["links"]["eval"]) / "REPORT.json")
        assert eval_report["settings"]["model"].startswith(row["links"]["model"])
    table = (out / "ablation.md").read_text()
    assert table.count("| refinedweb |") == table.count("| roots |") == 1
    page = _Srcs()
    page.feed((out / "report.html").read_text())
    assert len(page.srcs) >= 4 and all((out / s).is_file() for s in page.srcs)
    assert "best" in capsys.readouterr().out
