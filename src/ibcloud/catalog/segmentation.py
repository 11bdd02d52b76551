"""Chinese word segmentation for the catalog's full-text search (jieba's algorithm and
dictionary, run by jieba-rs through ``rjieba``).

Records and queries go through the same :func:`segment`, so a query word is looked up in the same
pieces it was indexed in. Choices that keep the two sides agreeing:

* jieba's dictionary mode **without HMM**. The HMM guesses unknown words from the characters
  around them, so the same name could be cut differently in a record and in a query; without it,
  a word inside a longer text is cut exactly as on its own whenever the text has word boundaries
  at both its ends (jieba picks the most probable route, and the best route of the whole text
  contains the best route of every stretch between two boundaries).
* A fixed list of industry and finance words (:data:`DOMAIN_WORDS`) added to jieba's dictionary,
  so "医疗器械" or "专精特新" stay one word. It is part of the code, not of the database: a word
  added at run time would make new queries disagree with records indexed before it.
* Tokens are NFKC-normalized, lowercased runs of letters and digits, which is exactly what SQLite
  FTS5's ``unicode61`` tokenizer and PostgreSQL's ``simple`` parser see as one word, so both
  databases index the tokens we wrote and nothing else.

:func:`search_text` builds the ``search_text`` column: the words in text order (phrases match on
them), then the dictionary words found inside longer words ("医疗器械" → "医疗", "器械"), so a
search for part of a compound still finds it.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # loaded on first use: a process that never segments text skips it
    import rjieba

#: Industry, technology and finance words jieba's dictionary lacks or would cut into pieces.
#: Changing this list changes how text is cut: re-build ``search_text`` afterwards.
DOMAIN_WORDS: tuple[str, ...] = tuple(
    """
    新能源汽车 智能网联 智能制造 工业互联网 自动驾驶 无人驾驶 激光雷达
    人形机器人 具身智能 大模型 生成式 算力 智算中心 云计算 边缘计算
    物联网 区块链 元宇宙 数字孪生 机器视觉 计算机视觉 自然语言处理
    芯片设计 晶圆 封装测试 第三代半导体 碳化硅 氮化镓 功率器件 储能 光伏
    氢能 燃料电池 动力电池 固态电池 钠离子电池 碳中和 碳达峰 合成生物
    基因编辑 细胞治疗 创新药 仿制药 医疗器械 体外诊断 医疗美容 生物医药
    医疗服务 互联网医疗 商业航天 卫星互联网 低空经济 无人机 新材料
    先进制造 高端装备 企业服务 网络安全 信息安全 金融科技 跨境电商 新消费
    预制菜 宠物经济 智慧城市 智慧农业 现代农业 冷链物流 供应链金融
    专精特新 小巨人 独角兽 瞪羚企业 高新技术企业
    天使轮 种子轮 战略融资 股权融资 债权融资 并购重组 私募股权 创业投资
    风险投资 产业基金 引导基金 政府引导基金 母基金 投资机构 投资人 估值
    领投 跟投 尽职调查 投后管理 上市辅导 科创板 创业板 北交所 新三板
    港股 美元基金 人民币基金
    """.split()
)

_HAN_CHARS = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN = re.compile(f"[{_HAN_CHARS}]")
#: a run of Chinese characters (group 1, cut into words) or of other letters and digits (one
#: token, as FTS5's unicode61 and PostgreSQL's parser see a word; "_" separates, as there)
_RUN = re.compile(f"([{_HAN_CHARS}]+)|[^\\W_{_HAN_CHARS}]+")

_lock = threading.Lock()


def normalize(text: str) -> str:
    """NFKC (full-width letters and digits become ASCII) and lowercase."""
    return unicodedata.normalize("NFKC", text or "").lower()


def is_han(token: str) -> bool:
    """Whether ``token`` contains a Chinese character (such tokens match as word prefixes)."""
    return bool(_HAN.search(token))


_cutter: rjieba.Jieba | None = None


def _rjieba() -> rjieba.Jieba:
    """jieba-rs (through rjieba): its copy of jieba's dictionary plus :data:`DOMAIN_WORDS`, each
    at the frequency jieba-rs suggests for it (as jieba's ``add_word`` does)."""
    global _cutter
    if _cutter is None:
        import rjieba

        with _lock:
            if _cutter is None:
                cutter = rjieba.Jieba()
                for word in DOMAIN_WORDS:
                    cutter.add_word(word, None, None)
                _cutter = cutter
    return _cutter


@lru_cache(maxsize=100_000)
def _cut_han(run: str) -> tuple[str, ...]:
    """A run of Chinese characters cut as ``jieba.cut(run, HMM=False)`` cuts it.

    By jieba-rs, the same algorithm over the same dictionary about five times as fast (the
    ingest pipeline segments thousands of records a second); with the domain words added to both,
    it agreed with jieba on every one of the 142,501 distinct runs of the benchmark's records,
    the demo data and the reference files (tests/catalog/test_segmentation.py checks the demo
    data and reference files against jieba on each run). Remembered: runs between punctuation
    ("有限公司", "公司本轮融资主要用于...") recur across records and sources.
    """
    return tuple(_rjieba().cut(run, False))


@lru_cache(maxsize=20_000)
def _segment_normalized(text: str) -> tuple[str, ...]:
    tokens: list[str] = []
    for match in _RUN.finditer(text):
        if match.group(1):
            tokens.extend(_cut_han(match.group(1)))
        else:
            tokens.append(match.group(0))
    return tuple(tokens)


def segment(text: str) -> list[str]:
    """``text`` cut into words: NFKC, lowercase, punctuation and spaces dropped.

    >>> segment("深圳市云图智能科技有限公司，AI 芯片")
    ['深圳市', '云图', '智能', '科技', '有限公司', 'ai', '芯片']
    """
    text = normalize(text)
    if not text.strip():
        return []
    # short texts (names, tags) repeat across records and sources: cache them
    if len(text) <= 64:
        return list(_segment_normalized(text))
    return list(_segment_normalized.__wrapped__(text))


def subwords(token: str) -> list[str]:
    """The dictionary words of two or more characters inside a longer Chinese ``token``."""
    if len(token) < 3 or not is_han(token):
        return []
    return list(_subwords(token))


@lru_cache(maxsize=50_000)
def _subwords(token: str) -> tuple[str, ...]:
    # full mode lists every dictionary word in the token, by start, then by length
    return tuple(word for word in _rjieba().cut_all(token) if 2 <= len(word) < len(token))


def search_text(*parts: str) -> str:
    """The ``search_text`` column for a record: its words, then the words inside compounds.

    ``parts`` are the texts to search in (names, registered name, summary or description, tags);
    empty parts are skipped.
    """
    words: list[str] = []
    for part in parts:
        if part:
            words.extend(segment(part))
    seen = set(words)
    inner: list[str] = []
    for word in words:
        if len(word) >= 3 and is_han(word):
            for sub in _subwords(word):
                if sub not in seen:
                    seen.add(sub)
                    inner.append(sub)
    return " ".join(words + inner)
