"""Readers (file -> original text) and cleaning (original text -> kept sections with offsets).

Every offset in the project points into `Document.text`, the text exactly as the reader produced it:
for .txt/.md that is the decoded file; for .html, .pdf and .docx it is the extracted text.
Cleaning never edits text: it only decides which lines to keep, so a kept span is always real text.
"""

from __future__ import annotations

import codecs
import os
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

from rag.answering.text import COMMAS, SENTENCE_END
from rag.config import Config
from rag.errors import InputError, UnsupportedFileError
from rag.schema import Document, Section, Span, content_hash, dedup_key, trim_span

SUPPORTED_SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".pdf", ".docx")

# --------------------------------------------------------------------------- readers


def decode_text(data: bytes, name: str) -> str:
    """UTF-8 first (with or without BOM), then GB18030 (a superset of GBK/GB2312) for older Chinese files.

    UTF-16 is read only with its byte-order mark (Windows Notepad's "Unicode"): without one it cannot be
    told from binary data.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise UnsupportedFileError(f"{name} starts like UTF-16 text but is damaged at byte {exc.start}; "
                                       "save it as UTF-8 and add it again.") from None
        if not _looks_like_text(text):
            raise UnsupportedFileError(f"{name} starts with a UTF-16 mark but holds binary data, not text; "
                                       "give a text, Markdown, HTML, PDF or DOCX file.")
        return text.replace("\r\n", "\n").replace("\r", "\n")
    if b"\x00" in data[:8192]:
        raise UnsupportedFileError(f"{name} looks binary (it contains NUL bytes), not text; "
                                   f"give a text, Markdown, HTML, PDF or DOCX file.")
    utf8_problem = ""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError as exc:
            if encoding == "utf-8-sig":  # name the spot: a damaged UTF-8 file is fixable there
                utf8_problem = f" (the first byte that is not UTF-8 is near offset {exc.start})"
            continue
        if _looks_like_text(text):
            return text.replace("\r\n", "\n").replace("\r", "\n")
    raise UnsupportedFileError(f"{name} is not readable text in UTF-8 or GBK/GB18030{utf8_problem}; "
                               "save it as UTF-8 and add it again.")


def _looks_like_text(text: str) -> bool:
    if not text:
        return True
    controls = sum(1 for c in text if unicodedata.category(c) in ("Cc", "Co", "Cn") and c not in "\n\r\t\f")
    return controls / len(text) < 0.01


class _MainTextParser(HTMLParser):
    """Collects visible text; block elements become paragraph breaks; page chrome is skipped."""

    SKIP = {"script", "style", "noscript", "nav", "header", "footer", "aside", "form", "button",
            "svg", "template", "iframe", "select"}
    BLOCK = {"p", "div", "section", "article", "main", "br", "li", "ul", "ol", "h1", "h2", "h3",
             "h4", "h5", "h6", "tr", "table", "blockquote", "pre", "figure", "figcaption", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.main_parts: list[str] | None = None
        self._skip_depth = 0
        self._main_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip_depth += 1
        if tag in ("article", "main"):
            if self._main_depth == 0 and self.main_parts is None:
                self.main_parts = []
            self._main_depth += 1
        if tag in self.BLOCK:
            self._emit("\n\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skip_depth:
            self._skip_depth -= 1
        if tag in self.BLOCK:
            self._emit("\n\n")
        if tag in ("article", "main") and self._main_depth:
            self._main_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip_depth:
            self._emit(re.sub(r"\s+", " ", data))

    def _emit(self, s: str) -> None:
        self.parts.append(s)
        if self._main_depth and self.main_parts is not None:
            self.main_parts.append(s)

    def text(self) -> str:
        raw = "".join(self.main_parts if self.main_parts else self.parts)
        lines = [line.strip() for line in re.split(r"\n\s*\n", raw)]
        return "\n\n".join(line for line in lines if line)


def _read_html(data: bytes, name: str) -> str:
    parser = _MainTextParser()
    parser.feed(decode_text(data, name))
    parser.close()
    return parser.text()


def _read_pdf(path: Path) -> str:
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        pages = [page.extract_text() or "" for page in PdfReader(str(path)).pages]
    except (PyPdfError, ValueError, OSError, KeyError) as exc:  # PyPdfError: also encrypted/limit errors
        raise UnsupportedFileError(f"{path.name} is not a readable PDF ({exc}).") from None
    text = "\n\n".join(p.strip() for p in pages if p.strip())
    if not text:
        raise UnsupportedFileError(f"{path.name} has no text layer (a scanned PDF?); run OCR on it first, "
                                   "or give a text version.")
    return text


def _read_docx(path: Path) -> str:
    import zipfile

    import docx
    from docx.opc.exceptions import OpcError

    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, OpcError, KeyError, ValueError) as exc:  # OpcError: not a zip package
        raise UnsupportedFileError(f"{path.name} is not a readable .docx file ({exc}).") from None
    return "\n\n".join(p.text.strip() for p in document.paragraphs if p.text.strip())


def path_key(path: Path) -> str:
    """The resolved path as text that can always be stored (a document's identity): bytes of a name that
    are not UTF-8 become \\xNN escapes, so a GBK-named file still gets one stable, writable key."""
    return os.fsencode(Path(path).resolve()).decode("utf-8", "backslashreplace")


def display_name(path: Path) -> str:
    """The file name as people see it, on one line and storable as UTF-8.

    Bytes that are not UTF-8 (a GBK-named file unpacked on Linux) are decoded as GB18030 where they can
    be; control and line-breaking characters become '?', so a name cannot forge lines in CLI output.
    """
    raw = os.fsencode(Path(path).name)
    try:
        name = raw.decode("utf-8")
    except UnicodeDecodeError:
        try:
            name = raw.decode("gb18030")
        except UnicodeDecodeError:
            name = raw.decode("utf-8", "replace")
    return "".join("?" if unicodedata.category(c) in ("Cc", "Cf", "Zl", "Zp") else c for c in name)


def format_size(n_bytes: float) -> str:
    for unit, size in (("MB", 1e6), ("KB", 1e3)):
        if n_bytes >= size:
            return f"{n_bytes / size:.1f} {unit}"
    return f"{n_bytes:.0f} bytes"


def check_file_size(path: Path, max_bytes: int, name: str | None = None) -> int:
    """The size of a file in bytes, or an InputError when it is over `max_bytes` (RAG_MAX_FILE_BYTES)."""
    size = Path(path).stat().st_size
    if size > max_bytes:
        raise InputError(f"{name or display_name(path)} is {format_size(size)}, over the {format_size(max_bytes)} "
                         f"limit (RAG_MAX_FILE_BYTES={max_bytes}); split it or raise RAG_MAX_FILE_BYTES.")
    return size


def read_file(path: Path, max_bytes: int = Config.max_file_bytes, source: str | None = None) -> Document:
    """Read one supported file into a cleaned Document, or raise an InputError saying why not."""
    path = Path(path)
    name = source or display_name(path)
    if not path.exists():
        raise InputError(f"{path} does not exist; check the path.")
    if path.is_dir():
        raise InputError(f"{path} is a directory; give files, or use read_documents() for a folder.")
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise UnsupportedFileError(f"{name}: files of type {suffix or '(no extension)'!r} are not supported; "
                                   f"use one of {', '.join(SUPPORTED_SUFFIXES)}.")
    size = check_file_size(path, max_bytes, name)
    if size == 0:
        raise InputError(f"{name} is empty; there is nothing to index.")
    if suffix == ".pdf":
        text = _read_pdf(path)
    elif suffix == ".docx":
        text = _read_docx(path)
    elif suffix in (".html", ".htm"):
        text = _read_html(path.read_bytes(), name)
    else:
        text = decode_text(path.read_bytes(), name)
    return replace(make_document(name, text), path=path_key(path))


def expand_paths(paths: list[Path]) -> list[Path]:
    """Expand folders into the supported files inside them (sorted), checking each path exists."""
    files: list[Path] = []
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES)
            if not found:
                raise InputError(f"{p} holds no supported files ({', '.join(SUPPORTED_SUFFIXES)}).")
            files.extend(found)
        elif not p.exists():
            raise InputError(f"{p} does not exist; check the path.")
        else:
            files.append(p)
    return files


def read_documents(paths: list[Path], max_bytes: int = Config.max_file_bytes) -> list[Document]:
    """Every supported file under `paths`, read; the first unreadable one raises, so callers add all or none."""
    if not paths:
        raise InputError("no files were given; name .txt, .md, .html, .pdf or .docx files or folders.")
    return [read_file(f, max_bytes) for f in expand_paths(paths)]


def make_document(source: str, text: str) -> Document:
    sections = tuple(clean(text))
    if not sections:
        raise InputError(f"{source} has no body text left after cleaning (only page furniture or blank lines).")
    return Document(source=source, text=text, sections=sections, doc_id=content_hash(text))


# --------------------------------------------------------------------------- cleaning

# Page furniture found on news and blog pages. Each pattern is matched against one stripped line of at
# most FURNITURE_MAX_CHARS characters, so long body paragraphs that mention these words are never dropped.
FURNITURE_MAX_CHARS = 40
FURNITURE_PATTERNS = [re.compile(p, re.IGNORECASE) for p in (
    r"(扫一扫|扫码|下载|打开).{0,12}(app|客户端)",  # app download prompts
    r"^下载.{0,10}$",
    r"^(正在阅读|相关阅读|推荐阅读|热门推荐|延伸阅读|相关新闻|相关文章|猜你喜欢|阅读原文|read more)\W*",
    r"^(评论|分享|收藏|点赞|举报|关注|微信公众号|公众号|微博|微信|qq空间|朋友圈|返回顶部|上一篇|下一篇|"
    r"share|comments?|like|tweet)\W*$",  # share / comment widgets
    r"暂无评论|快来评价|发表评论|写评论|登录后|注册登录",
    r"转载.{0,20}(著作权|版权|授权)|(著作权|版权)所有|未经授权|^(©|copyright)",
    r"^(图源|图片来源|图\s*[|丨:：]|题图)",  # image captions
    r"^[\d.,]+\s*[kmw万千亿]?\+?$",  # view/like counters such as "4.4k"
)]
BULLET = re.compile(r"^\s*[•·▪●◦■□►▶]\s*")
HEADING = re.compile(r"^(#{1,6}\s+\S.*|([0-9]{1,2}|[一二三四五六七八九十]{1,3})\s*、\s*\S.{0,40}|[0-9]{1,2}[.．]\s+\S.{0,40}"
                     r"|第[一二三四五六七八九十0-9]+[章节部分].{0,40})$")
TINY_LINE = 4  # lines this short with no sentence punctuation are tags or buttons, not content


def _lines(text: str) -> Iterator[Span]:
    """Spans of the non-blank lines of text, with surrounding whitespace excluded."""
    for m in re.finditer(r"[^\n]+", text):
        s, e = trim_span(text, m.start(), m.end())
        if e > s:
            yield Span(s, e)


def is_furniture(line: str) -> bool:
    """Page chrome: download prompts, share/comment widgets, counters, captions, tags."""
    if len(line) <= TINY_LINE and not any(c in SENTENCE_END for c in line):
        return True
    if len(line) > FURNITURE_MAX_CHARS:
        return False
    return any(p.search(line) for p in FURNITURE_PATTERNS)


def is_heading(line: str) -> bool:
    return bool(HEADING.match(line)) and not line.rstrip().endswith(tuple("。；;，,"))


def _headline_runs(text: str, spans: list[Span]) -> set[int]:
    """Indices of lines in runs of 2+ bulleted lines with no sentence ending: lists of related headlines."""
    drop: set[int] = set()
    run: list[int] = []
    for i, span in enumerate(spans + [Span(0, 0)]):
        line = text[span.start:span.end]
        if span.end > span.start and BULLET.match(line) and not line.rstrip().endswith(tuple("。！？!?")):
            run.append(i)
            continue
        if len(run) >= 2:
            drop.update(run)
        run = []
    return drop


def clean(text: str) -> list[Section]:
    """Keep body lines; drop furniture, headline lists and repeated paragraphs (first occurrence wins).

    Kept lines that follow each other in the text (only blank lines between) form one Section, titled
    by the latest heading; the document's first short, unpunctuated line serves as the title before any
    heading. A dropped line or a heading ends a section, so every Section is one contiguous span.
    """
    spans = list(_lines(text))
    headline_lines = _headline_runs(text, spans)
    seen: set[str] = set()
    sections: list[Section] = []
    title = ""
    run_start = run_end = -1

    def close_run() -> None:
        nonlocal run_start
        if run_start >= 0:
            sections.append(Section(title=title, start=run_start, end=run_end))
        run_start = -1

    for i, span in enumerate(spans):
        line = text[span.start:span.end]
        key = dedup_key(line)
        if i in headline_lines or is_furniture(line) or key in seen:
            close_run()
            continue
        seen.add(key)
        first_title = not sections and run_start < 0 and not title and len(line) <= 60 \
            and not any(c in SENTENCE_END + COMMAS for c in line)
        if is_heading(line) or first_title:
            close_run()
            title = line.lstrip("# ").strip()
            continue
        if run_start < 0:
            run_start = span.start
        run_end = span.end
    close_run()
    return sections
