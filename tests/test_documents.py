"""Readers and cleaning: furniture and repeats dropped, nothing invented, offsets exact."""

from __future__ import annotations

import pytest

from rag.documents import clean, decode_text, is_furniture, is_heading, make_document, read_file
from rag.errors import InputError, UnsupportedFileError
from tests.conftest import ARTICLE


@pytest.fixture(scope="module")
def article():
    return read_file(ARTICLE)


def kept_text(doc) -> str:
    return "\n".join(doc.text[s.start:s.end] for s in doc.sections)


def test_article_keeps_one_copy_of_the_body_in_five_sections(article):
    titles = [s.title for s in article.sections]
    assert titles == ["AI拯救美图背后:“九败一胜”的冒险", "1、AI,怎么拯救美图?", "2、九败一胜,美图没放弃过“冒险”",
                      "2、九败一胜,美图没放弃过“冒险”", "3、新的征程,依然充满挑战"]
    body = kept_text(article)
    # the first copy of the body ends at its last paragraph; nothing after it is kept
    last = "这是一场不能松懈的马拉松。"
    first_end = article.text.index(last) + len(last)
    assert max(s.end for s in article.sections) == first_end
    assert body.count("财报显示美图2023年总收入27 亿元") == 1


@pytest.mark.parametrize("furniture", ["扫一扫下载界面新闻APP", "暂无评论哦,快来评价一下吧!", "4.4k", "微信公众号",
                                       "本文为转载内容,授权事宜请联系原著作权人。", "图源美图公司官网", "正在阅读:"])
def test_article_furniture_is_dropped(article, furniture):
    assert furniture in article.text
    assert furniture not in kept_text(article)


def test_related_headline_list_is_dropped(article):
    assert "港股收评" in article.text and "港股收评" not in kept_text(article)


def test_sections_are_real_spans_of_the_original(article):
    for s in article.sections:
        assert 0 <= s.start < s.end <= len(article.text)
        assert article.text[s.start:s.end] == article.text[s.start:s.end].strip()


@pytest.mark.parametrize("line,expected", [
    ("扫码下载APP", True), ("分享", True), ("评论", True), ("1.2万", True), ("美图", True),
    ("美图2023年总收入27亿元。", False), ("编辑|子夜", False),
    ("这是一个很长的正文段落,它提到了下载和评论,但它是正文,不是页面上的按钮,所以应当保留下来。", False),
])
def test_is_furniture(line, expected):
    assert is_furniture(line) is expected


@pytest.mark.parametrize("line,expected", [
    ("1、AI,怎么拯救美图?", True), ("三、新的征程", True), ("## Install", True), ("第二章 历史", True),
    ("2023年,ChatGPT席卷全球;2024年,Sora惊艳登场,两个大模型重燃了AI行业。", False), ("3.7亿元是净利润", False),
])
def test_is_heading(line, expected):
    assert is_heading(line) is expected


def test_repeated_paragraph_keeps_first_occurrence_only():
    text = "星火公司年报\n\n第一段正文内容。\n\n第二段正文内容。\n\n第一段正文内容。\n\n第三段正文内容。"
    sections = clean(text)
    kept = [text[s.start:s.end] for s in sections]
    assert kept == ["第一段正文内容。\n\n第二段正文内容。", "第三段正文内容。"]
    assert sections[0].start == text.index("第一段")
    assert all(s.title == "星火公司年报" for s in sections)


def test_gbk_text_is_decoded_not_garbled():
    original = "美图公司2023年总收入27亿元。"
    assert decode_text(original.encode("gbk"), "a.txt") == original
    assert decode_text(original.encode("utf-8-sig"), "a.txt") == original
    assert decode_text(b"a\r\nb", "a.txt") == "a\nb"


def test_binary_is_rejected_with_the_file_name():
    with pytest.raises(UnsupportedFileError, match="x.txt looks binary"):
        decode_text(b"\x00\x01\x02PK", "x.txt")


def test_html_reader_keeps_main_text_only(tmp_path):
    page = tmp_path / "p.html"
    page.write_text("<html><head><title>t</title><script>var x=1;</script></head><body>"
                    "<nav>首页 | 下载APP</nav><article><h1>标题</h1><p>正文第一段,美图收入27亿元。</p>"
                    "<p>正文第二段。</p></article><footer>版权所有</footer></body></html>", encoding="utf-8")
    doc = read_file(page)
    assert doc.text == "标题\n\n正文第一段,美图收入27亿元。\n\n正文第二段。"
    assert [doc.text[s.start:s.end] for s in doc.sections] == ["正文第一段,美图收入27亿元。\n\n正文第二段。"]


def test_docx_reader(tmp_path):
    import docx

    d = docx.Document()
    d.add_paragraph("星火公司年报")
    d.add_paragraph("星火公司2025年的研发投入为8.8亿元。")
    d.save(tmp_path / "r.docx")
    doc = read_file(tmp_path / "r.docx")
    assert "星火公司2025年的研发投入为8.8亿元。" in [doc.text[s.start:s.end] for s in doc.sections]


@pytest.mark.parametrize("name,content,message", [
    ("a.exe", b"MZ", "not supported"), ("empty.txt", b"", "is empty"),
    ("furniture.txt", "分享\n\n评论\n\n微博".encode(), "no body text"),
])
def test_bad_files_get_clear_messages(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_file(tmp_path / name)


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        read_file(tmp_path / "nope.txt")


def test_document_id_is_the_content_hash():
    a = make_document("a.txt", "正文内容,足够长的一句话。")
    b = make_document("b.txt", "正文内容,足够长的一句话。")
    assert a.doc_id == b.doc_id and len(a.doc_id) == 64
