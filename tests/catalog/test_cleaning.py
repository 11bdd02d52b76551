"""Quarantine verdicts: which records are kept aside, and the reason users see."""

import pytest

from ibcloud.catalog.cleaning import check_data, check_fields

SPAM = ("博彩", "代开发票")


@pytest.mark.parametrize(
    ("data", "code"),
    [
        ([], "broken"),
        ("云图智能", "broken"),
        ({"name": {"zh": "云图"}}, "broken"),
        ({"tags": [["a"], ["b"]]}, "broken"),
        ({}, "empty"),
        ({"name": "  ", "summary": "<p>&nbsp;</p>", "tags": []}, "empty"),
        ({"name": "云图智能", "tags": ["AI"]}, ""),
    ],
)
def test_structure_and_emptiness_of_the_raw_data(data, code):
    assert check_data(data).code == code


@pytest.mark.parametrize(
    ("fields", "code", "in_reason"),
    [
        ({"name": "云图智能", "summary": "计算机视觉"}, "", ""),
        ({"name": "澳门博彩集团"}, "spam", "博彩"),
        ({"name": "云图智能", "summary": "另可代开发票"}, "spam", "代开发票"),
        ({"name": "云图智能 加微信 abc123"}, "spam", "contact"),
        ({"name": "云图智能13800138000"}, "spam", "13800138000"),
        ({"name": "", "full_name": None, "amount": 1}, "missing_name", ""),
        ({"name": "锟斤拷锟斤拷"}, "broken", "garbled"),
        ({"name": "云图<div class='x'>智能"}, "broken", "markup"),
        ({"name": "云" * 200}, "broken", "200 characters"),
        ({"name": "暂无"}, "invalid_name", "暂无"),
        ({"name": "12345"}, "invalid_name", "not a name"),
        ({"full_name": "深圳市云图智能科技有限公司"}, "", ""),
    ],
)
def test_field_checks(fields, code, in_reason):
    verdict = check_fields(fields, SPAM)
    assert verdict.code == code
    assert in_reason in verdict.reason
    assert verdict.accepted == (code == "")


def test_spam_words_are_matched_case_insensitively_and_blank_words_ignored():
    assert check_fields({"name": "Casino Royal"}, ["CASINO", " ", ""]).code == "spam"
    assert check_fields({"name": "云图智能"}, [" ", ""]).accepted
