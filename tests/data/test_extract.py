import time

import pytest

from roots.data.base import StepStats
from roots.data.document import Document
from roots.data.extract import Extract
from roots.data.timeout import DocumentTimeout, time_limit

PAGE = """<html><head><title>Gardening notes</title></head><body>
<nav><a href="/">Home</a> | <a href="/about">About</a> | <a href="/login">Log in</a></nav>
<article><h1>Growing tomatoes on a balcony</h1>
<p>Tomatoes need at least six hours of direct sunlight every day, so the balcony should face south or
west. Choose a deep pot with drainage holes and fill it with a rich, well-drained potting mix.</p>



<p>Water the plants deeply twice a week rather than a little every day: deep watering encourages the roots
to grow down, which makes the plants sturdier and more tolerant of hot afternoons in the summer.</p>
</article><footer>Copyright 2024 Example Gardens. All rights reserved.</footer></body></html>"""


def html_doc(html=PAGE):
    return Document(text=html, id="p", metadata={"content_type": "text/html"})


@pytest.mark.parametrize("backend", ["trafilatura", "resiliparse"])
def test_extract_keeps_main_text(backend):
    step = Extract(backend=backend)
    step.setup()
    doc = html_doc()
    assert step.process(doc) is None
    assert "six hours of direct sunlight" in doc.text and "deep watering" in doc.text
    assert "<p>" not in doc.text and "\n\n\n" not in doc.text
    assert doc.metadata["content_type"] == "text/plain"
    if backend == "trafilatura":  # precision settings drop the navigation and the footer
        assert "Log in" not in doc.text and "Copyright" not in doc.text


def test_non_html_documents_pass_unchanged():
    doc = Document(text="already text", id="t", metadata={"content_type": "text/plain"})
    assert Extract().process(doc) is None and doc.text == "already text"


def test_page_without_content_is_dropped():
    assert Extract().process(html_doc("<html><body><script>var x = 1;</script></body></html>")) == "extract_empty"


def test_time_limit_interrupts_a_sleeping_block():
    start = time.perf_counter()
    with pytest.raises(DocumentTimeout), time_limit(0.2):
        time.sleep(5)
    assert time.perf_counter() - start < 1.0
    with time_limit(0.5):  # a fast block is not disturbed, and the alarm is cleared afterwards
        pass
    time.sleep(0.6)


class SlowExtract(Extract):
    def extract(self, html: str) -> str:
        if "slow" in html:
            time.sleep(10)
        return super().extract(html)


def test_a_hanging_document_is_dropped_and_the_run_goes_on():
    step = SlowExtract(timeout_s=0.3)
    stats = StepStats("extract")
    docs = [html_doc(PAGE.replace("Gardening", "slow")), html_doc()]
    start = time.perf_counter()
    kept = list(step.run(docs, stats))
    assert time.perf_counter() - start < 3
    assert len(kept) == 1 and stats.dropped == {"extract_timeout": 1}
