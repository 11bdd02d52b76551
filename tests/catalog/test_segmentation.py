"""Segmentation: what the search index and the queries are cut into."""

import functools
import logging

from ibcloud.catalog.segmentation import DOMAIN_WORDS, search_text, segment, subwords


@functools.cache
def jieba_tokenizer():
    """The reference: jieba itself (Python) with the same domain words."""
    import jieba

    jieba.setLogLevel(logging.WARNING)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for word in DOMAIN_WORDS:
        tokenizer.add_word(word)
    return tokenizer


def jieba_subwords(token):
    """The dictionary words inside ``token``, from jieba's graph of the words it holds."""
    found = []
    for start, ends in jieba_tokenizer().get_DAG(token).items():
        for end in ends:
            if end > start and end - start + 1 < len(token):
                found.append(token[start : end + 1])
    return found


def test_segment_cuts_chinese_into_words_and_drops_punctuation():
    assert segment("深圳市云图智能科技有限公司，专注计算机视觉。") == [
        "深圳市",
        "云图",
        "智能",
        "科技",
        "有限公司",
        "专注",
        "计算机视觉",  # one of the domain words
    ]


def test_segment_normalizes_width_and_case():
    # full-width letters and digits from Chinese input methods are the ASCII ones
    assert segment("ＡＩ芯片 GPU ２０２４") == ["ai", "芯片", "gpu", "2024"]


def test_segment_splits_tokens_on_inner_punctuation_as_the_databases_do():
    # both FTS5's unicode61 and PostgreSQL's parser would split "e-commerce" and "v2.0"
    assert segment("e-commerce v2.0 C++") == ["e", "commerce", "v2", "0", "c"]


def test_segment_of_blank_or_punctuation_is_empty():
    assert segment("") == []
    assert segment(" ，。！ ") == []
    assert segment(None) == []


def test_domain_words_stay_whole():
    assert segment("医疗器械") == ["医疗器械"]
    assert segment("专精特新企业") == ["专精特新", "企业"]
    assert segment("新能源汽车") == ["新能源汽车"]
    assert segment("天使轮融资") == ["天使轮", "融资"]


def test_a_word_is_cut_the_same_alone_and_inside_a_sentence():
    # no HMM: the cut of a word does not depend on the text around it
    for word in ("云图智能", "鼎盛资本", "蓝海新能源"):
        alone = segment(word)
        inside = segment(f"本公司{word}成立于2015年")
        assert " ".join(alone) in " ".join(inside)


def test_subwords_are_the_dictionary_words_inside_a_compound():
    assert set(subwords("医疗器械")) == {"医疗", "器械"}
    assert "能源" in subwords("新能源汽车")
    assert subwords("芯片") == []
    assert subwords("robotics") == []


def test_search_text_lists_words_in_order_then_words_inside_compounds():
    text = search_text("云图医疗", "", "上海云图医疗器械有限公司")
    words = text.split(" ")
    # the words in text order first, so phrases match on them
    assert words[:6] == ["云图", "医疗", "上海", "云图", "医疗器械", "有限公司"]
    # then what compounds contain, each once
    assert set(words[6:]) == {"器械", "有限", "公司"}


def test_search_text_of_nothing_is_empty():
    assert search_text() == ""
    assert search_text("", "  ") == ""


def test_cutting_agrees_with_jieba_without_hmm():
    texts = [
        "得多半导体成立于2015年，专注于功率器件与芯片设计的研发与产业化，产品应用于工业控制。",
        "鼎盛资本是一家专注早中期科技投资的创业投资机构，管理人民币基金和美元基金。",
        "本轮融资将用于研发投入、市场拓展及补充流动资金，公司估值约十亿元。",
        "我来到北京清华大学，他来到了网易杭研大厦",
    ]
    for text in texts:
        expected = [
            word
            for word in jieba_tokenizer().cut(text, HMM=False)
            if word.strip() and word.isalnum()
        ]
        assert segment(text) == expected


def test_cutting_agrees_with_jieba_on_every_run_of_the_demo_data_and_reference_files():
    """jieba-rs cuts each run of Chinese as jieba (without HMM, with the domain words) does."""
    import re
    from pathlib import Path

    from ibcloud.catalog.segmentation import _cut_han
    from ibcloud.demo.sites.data import generate_investors, generate_projects

    texts = []
    for company in generate_projects(3000, "segmentation"):
        texts += [company.full_name, company.summary, company.industry, *company.tags]
    for investor in generate_investors(1000, "segmentation"):
        texts += [investor.full_name, *map(str, investor.as_dict().values())]
    import ibcloud.catalog

    data = Path(ibcloud.catalog.__file__).parent / "data"
    labeled = Path(__file__).parent / "labeled"
    for path in [*data.glob("*.csv"), *labeled.glob("*")]:
        texts.append(path.read_text(encoding="utf-8"))
    runs = {run for text in texts for run in re.findall("[\u4e00-\u9fff]+", text)}
    tokenizer = jieba_tokenizer()
    differing = [
        run for run in sorted(runs) if list(_cut_han(run)) != list(tokenizer.cut(run, HMM=False))
    ]
    assert len(runs) > 5_000
    assert differing == []
    # and the words inside each long word are the ones jieba's dictionary holds there
    words = {word for run in runs for word in _cut_han(run) if len(word) >= 3}
    differing = [word for word in sorted(words) if subwords(word) != jieba_subwords(word)]
    assert len(words) > 1_000
    assert differing == []
