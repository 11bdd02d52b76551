"""Dedup decisions: the same company under name variants, different companies kept apart."""

from ibcloud.catalog.dedup import Candidate, CandidateIndex, Probe, decide
from ibcloud.catalog.normalization.names import name_key

SZ, SZ_CITY = "440000", "440300"
HZ, HZ_CITY = "330000", "330100"


def key(name):
    return name_key(name)


def test_registered_name_variants_share_a_key():
    assert key("深圳市云图智能科技有限公司") == key("云图智能科技（深圳）有限公司")


def test_cities_without_districts_lead_names_like_other_cities():
    # 东莞, 中山 and 儋州 list themselves as their only county; they are still cities
    assert key("东莞弘毅医疗器械有限公司") == key("弘毅医疗器械（东莞）有限公司") == "弘毅医疗器械"
    assert key("中山华宇科技有限公司") == key("华宇科技（中山）有限公司")
    assert key("儋州椰风科技有限公司") == key("椰风科技（儋州）有限公司")


def test_same_name_key_and_region_is_the_same_company():
    existing = Candidate(1, (key("深圳市云图智能科技有限公司"),), SZ, SZ_CITY)
    decision = decide(Probe((key("云图智能科技（深圳）有限公司"),), SZ, SZ_CITY), [existing])
    assert (decision.candidate_id, decision.code) == (1, "name_key")


def test_short_name_matches_the_start_of_a_registered_name_key():
    existing = Candidate(1, ("云图智能科技",), SZ, SZ_CITY)
    decision = decide(Probe(("云图智能",), SZ), [existing])
    assert (decision.candidate_id, decision.code) == (1, "contained")


def test_similar_names_in_different_cities_stay_apart():
    existing = Candidate(1, (key("云图智能"),), SZ, SZ_CITY)
    assert decide(Probe((key("云途智能"),), HZ, HZ_CITY), [existing]).candidate_id is None


def test_one_character_apart_in_the_same_city_stays_apart():
    existing = Candidate(1, (key("星河智能"),), SZ, SZ_CITY)
    assert decide(Probe((key("星河智联"),), SZ, SZ_CITY), [existing]).candidate_id is None


def test_same_name_in_another_province_is_another_company():
    existing = Candidate(1, ("云图智能",), SZ, SZ_CITY)
    assert decide(Probe(("云图智能",), HZ, HZ_CITY), [existing]).candidate_id is None


def test_a_typo_in_a_long_name_is_a_near_duplicate():
    existing = Candidate(1, ("北京字节跳动网络技术服务",), "110000")
    decision = decide(Probe(("北京字节跳动网络科技服务",), "110000"), [existing])
    assert (decision.candidate_id, decision.code) == (1, "similar")
    assert "similar" in decision.reason


def test_credit_codes_decide_over_names_and_regions():
    same = Candidate(1, ("云图",), SZ, credit_code="91440300MA5F000001")
    assert decide(Probe(("yuntu",), HZ, credit_code="91440300MA5F000001"), [same]).code == (
        "credit_code"
    )
    other = Candidate(2, ("云图智能",), SZ, credit_code="91440300MA5F000002")
    assert decide(Probe(("云图智能",), SZ, credit_code="91440300MA5F000001"), [other]).code == (
        "new"
    )


def test_ties_prefer_the_same_city_then_the_lowest_id():
    province_only = Candidate(1, ("云图智能",), SZ)
    same_city = Candidate(2, ("云图智能",), SZ, SZ_CITY)
    assert decide(Probe(("云图智能",), SZ, SZ_CITY), [province_only, same_city]).candidate_id == 2
    twins = [Candidate(7, ("云图智能",), SZ), Candidate(3, ("云图智能",), SZ)]
    assert decide(Probe(("云图智能",), SZ), twins).candidate_id == 3


def test_without_a_region_a_name_in_several_provinces_is_ambiguous():
    in_two = [Candidate(1, ("云图智能",), SZ), Candidate(2, ("云图智能",), HZ)]
    decision = decide(Probe(("云图智能",)), in_two)
    assert (decision.candidate_id, decision.code) == (None, "ambiguous")
    # once a record without a region exists, such records go there (no endless new records)
    unplaced = Candidate(3, ("云图智能",))
    assert decide(Probe(("云图智能",)), [*in_two, unplaced]).candidate_id == 3


def test_the_index_only_offers_records_with_name_evidence():
    index = CandidateIndex()
    index.add(Candidate(1, ("云图智能科技",), SZ))
    index.add(Candidate(2, ("云途智能",), HZ))
    index.add(Candidate(3, ("星河智能",), SZ))
    index.add(Candidate(4, ("北京字节跳动网络技术服务",), "110000"))

    assert [c.id for c in index.candidates_for(Probe(("云图智能",)))] == [1]
    assert [c.id for c in index.candidates_for(Probe(("北京字节跳动网络科技服务",)))] == [4]
    assert index.find(Probe(("星河智能",), SZ)).candidate_id == 3
    index.remove(3)
    assert index.find(Probe(("星河智能",), SZ)).candidate_id is None


def test_the_index_knows_credit_code_holders():
    index = CandidateIndex()
    index.add(Candidate(5, ("云图",), SZ, credit_code="91440300MA5F000001"))
    assert index.holder_of("91440300MA5F000001") == 5
    assert index.find(Probe(("别名",), credit_code="91440300MA5F000001")).candidate_id == 5
    assert index.missing_blocks([Probe(("云图智能",)), Probe(("星河",))]) == {"云图", "星河"}
    index.mark_loaded(["星河"])
    assert index.missing_blocks([Probe(("星河",))]) == set()


def test_similar_pool_holds_every_key_similar_enough():
    """The deletion-variant index never hides a near-duplicate the full block scan would find."""
    import random

    from rapidfuzz import fuzz

    from ibcloud.catalog.dedup import SIMILARITY_THRESHOLD, block_of

    rng = random.Random(7)
    alphabet = "云图智能科技星河联动数据"
    keys = {"云图" + "".join(rng.choices(alphabet, k=rng.randint(1, 14))) for _ in range(1500)}
    index = CandidateIndex()
    for number, name in enumerate(sorted(keys), start=1):
        index.add(Candidate(number, (name,)))
    for probe in sorted(keys)[:300]:
        pool = set(index.similar_pool(probe))
        similar = {
            other
            for other in index.block_keys[block_of(probe)]
            if fuzz.ratio(probe, other) >= SIMILARITY_THRESHOLD
        }
        assert similar <= pool, probe


def test_a_removed_record_is_no_longer_found_as_similar():
    index = CandidateIndex()
    index.add(Candidate(1, ("北京字节跳动网络技术服务",), "110000"))
    probe = Probe(("北京字节跳动网络科技服务",), "110000")
    assert index.find(probe).candidate_id == 1

    index.remove(1)

    assert index.find(probe).candidate_id is None
    assert index.similar_pool("北京字节跳动网络科技服务") == []


# --- The index: many near-duplicates, the same decision whatever the order ------------------------


def _many_similar():
    """26 records "北辰?新材料" in one city, each 91 similar to "北辰新材料", added shuffled."""
    import random

    stems = "万东九元凌南启嘉星曜极澄燧睿磐蓝西雪青鹿量赤天智云文"
    candidates = [Candidate(100 + i, (f"北辰{c}新材料",), SZ, SZ_CITY) for i, c in enumerate(stems)]
    random.Random(7).shuffle(candidates)
    return candidates


def test_a_less_similar_record_is_found_behind_many_more_similar_ones():
    index = CandidateIndex()
    # 25 records one character away from the probe (similarity 94), all in another province
    for i, c in enumerate("万东九元凌南启嘉星曜极澄燧睿磐蓝西雪青鹿量赤天智云"):
        index.add(Candidate(100 + i, (f"北辰{c}新材料研究院",), HZ, HZ_CITY))
    # two characters away (similarity 89, above the threshold), in the probe's city
    index.add(Candidate(200, ("北辰新材料甲乙研究院",), SZ, SZ_CITY))

    decision = index.find(Probe(("北辰新材料研究院",), SZ, SZ_CITY))

    assert (decision.candidate_id, decision.code) == (200, "similar")


def test_equally_similar_records_tie_to_the_lowest_id_whatever_the_order():
    index = CandidateIndex()
    for candidate in _many_similar():
        index.add(candidate)

    decision = index.find(Probe(("北辰新材料",), SZ, SZ_CITY))

    assert (decision.candidate_id, decision.code) == (100, "similar")


def test_a_same_key_match_decides_as_weighing_every_candidate_would():
    candidates = [
        *_many_similar(),
        Candidate(7, ("北辰新材料",), HZ, HZ_CITY),  # same key, another province: vetoed
        Candidate(9, ("北辰新材料", "北辰材料"), SZ, ""),  # same key, same province
        Candidate(8, ("北辰新材料",), SZ, SZ_CITY),  # same key, same city: the best
    ]
    index = CandidateIndex()
    for candidate in candidates:
        index.add(candidate)
    for probe in (
        Probe(("北辰新材料",), SZ, SZ_CITY),
        Probe(("北辰新材料",)),  # no region: ambiguous between provinces
        Probe(("北辰新材料",), HZ),
        Probe(("北辰新材料",), "110000"),  # every same-key record vetoed: similar names decide
    ):
        assert index.find(probe) == decide(probe, candidates), probe
