"""Topic clustering: separates clearly different topics in the projects' summaries, names them
by what the projects do (not by their names or places), measures growth, runs as a job and keeps
working on tiny catalogs."""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from ibcloud.catalog import clustering
from ibcloud.catalog.dashboard_tasks import run_clustering_now, weekly_clustering
from ibcloud.catalog.models import ClusterRun, TopicCluster
from ibcloud.core.models import Job
from tests.catalog.factories import ProjectFactory
from tests.conftest import make_org

pytestmark = pytest.mark.django_db

NOW = timezone.make_aware(datetime.datetime(2026, 11, 25, 12, 0))

MEDICAL = [
    "公司 专注 医疗器械 研发 ， 核心 产品 为 心脏 支架 与 介入 导管 ， 已 进入 三甲 医院",
    "创新药 企业 ， 研发 抗肿瘤 靶向药 ， 临床 试验 进展 顺利 ， 医院 渠道 覆盖 全国",
    "医疗 影像 设备 制造商 ， 产品 包括 超声 诊断仪 与 医疗器械 耗材 ， 服务 医院",
    "体外 诊断 试剂 研发 ， 肿瘤 早筛 产品 获 医疗器械 注册证 ， 进入 医院 检验科",
    "生物 医药 公司 ， 抗体 药物 进入 临床 试验 ， 医院 合作 开展 肿瘤 治疗",
    "手术 机器人 研发 ， 微创 手术 医疗器械 ， 已 在 多家 医院 开展 临床 试验",
]
ENERGY = [
    "锂电池 正极 材料 生产 ， 服务 新能源 汽车 动力 电池 厂商 ， 储能 项目 落地",
    "光伏 组件 制造 ， 高效 电池片 技术 ， 储能 电站 与 新能源 发电 项目",
    "储能 系统 集成商 ， 锂电池 储能 柜 与 光伏 电站 配套 ， 新能源 消纳",
    "氢能 燃料 电池 研发 ， 新能源 重卡 动力 系统 ， 加氢站 建设",
    "动力 电池 回收 利用 ， 锂电池 梯次 储能 ， 新能源 汽车 产业链",
    "风电 与 光伏 新能源 运维 服务 ， 储能 电站 智能 调度 系统",
]


def summary(text: str) -> str:
    """A summary as a source writes it (the texts above are shown cut into words)."""
    return text.replace(" ", "")


def make_topics(medical_seen=None, energy_seen=None):
    """Projects of two unrelated topics; ``*_seen``: first-seen times, one per project."""
    made = {"medical": [], "energy": []}
    for topic, texts, seen in (("medical", MEDICAL, medical_seen), ("energy", ENERGY, energy_seen)):
        for i, text in enumerate(texts):
            made[topic].append(
                ProjectFactory(summary=summary(text), first_seen_at=(seen or [None] * 6)[i])
            )
    return made


def test_two_topics_land_in_different_clusters_with_fitting_theme_words():
    made = make_topics()
    run = clustering.run_clustering(k=2, now=NOW)
    assert run.cluster_count == 2 and run.project_count == 12
    clusters = list(run.clusters.all())
    ids = {topic: {p.pk for p in projects} for topic, projects in made.items()}
    memberships = []
    for cluster in clusters:
        samples = set(cluster.sample_project_ids)
        assert cluster.size == 6
        # Every sample (all members here) comes from one topic only.
        assert samples in (ids["medical"], ids["energy"])
        memberships.append("medical" if samples == ids["medical"] else "energy")
    assert sorted(memberships) == ["energy", "medical"]
    words = {m: set(c.theme_words) for m, c in zip(memberships, clusters, strict=True)}
    assert {"医院", "医疗器械"} & words["medical"]
    assert {"储能", "新能源"} & words["energy"]
    assert not words["medical"] & {"储能", "新能源", "锂电池"}
    for theme in words.values():
        assert not theme & clustering.STOP_WORDS


def test_default_cluster_count_is_capped_by_the_catalog_size():
    make_topics()
    run = clustering.run_clustering(now=NOW)  # parameter default 8; 12 projects allow 2
    assert run.parameters["k"] == 8
    assert run.parameters["k_used"] == clustering.cluster_cap(12) == 2
    assert run.cluster_count == 2


def test_growth_compares_the_last_window_with_the_one_before():
    day = datetime.timedelta(days=1)
    medical_seen = [NOW - 2 * day, NOW - 5 * day, NOW - 40 * day, NOW - 100 * day, None, None]
    energy_seen = [NOW - 1 * day, NOW - 3 * day, NOW - 10 * day, NOW - 29 * day, NOW + day, None]
    make_topics(medical_seen, energy_seen)
    run = clustering.run_clustering(k=2, now=NOW)
    by_word = {
        ("医院" in c.theme_words or "医疗器械" in c.theme_words): c for c in run.clusters.all()
    }
    medical, energy = by_word[True], by_word[False]
    assert (medical.recent, medical.previous) == (2, 1)
    assert (energy.recent, energy.previous) == (4, 0)
    assert clustering.growth_percent(medical.recent, medical.previous) == 100.0
    assert clustering.growth_percent(energy.recent, energy.previous) is None
    assert clustering.growth_percent(1, 4) == -75.0


def test_tiny_and_empty_catalogs_give_a_run_without_clusters():
    run = clustering.run_clustering(now=NOW)
    assert (run.project_count, run.cluster_count) == (0, 0)
    ProjectFactory(summary="储能锂电池")
    run = clustering.run_clustering(now=NOW)
    assert (run.project_count, run.cluster_count) == (1, 0)
    # Only stop words, numbers and places: nothing to cluster on; no summary: nothing either.
    ProjectFactory(summary="公司融资产品2024，位于深圳")
    ProjectFactory(summary="", search_text="储能 锂电池")
    run = clustering.run_clustering(k=5, now=NOW)
    assert run.cluster_count == 0


def test_identical_texts_never_ask_for_more_clusters_than_distinct_projects():
    for _ in range(10):
        ProjectFactory(summary="储能锂电池新能源")
    ProjectFactory(summary="医院医疗器械")
    ProjectFactory(summary="医院医疗器械")
    run = clustering.run_clustering(k=8, now=NOW)
    assert run.cluster_count == 2
    assert sorted(c.size for c in run.clusters.all()) == [2, 10]


def test_theme_words_are_what_projects_do_not_their_names_or_places():
    # Summaries as sources write them: the project's name and city first, then the business.
    # Here each topic's projects share their cities and brands, so with the names and places
    # counted, those would be the heaviest words of each cluster.
    places = {"medical": ("合肥", ["蓝鲸", "东岳"]), "energy": ("西安", ["芯原", "锐思"])}
    made = {"medical": set(), "energy": set()}
    for topic, texts in (("medical", MEDICAL), ("energy", ENERGY)):
        city, brands = places[topic]
        for i, text in enumerate(texts):
            name = f"{brands[i % 2]}{'医疗' if topic == 'medical' else '能源'}"
            project = ProjectFactory(
                name=name,
                full_name=f"{city}{name}科技有限公司",
                summary=f"{name}成立于{city}，{summary(text)}，总部位于{city}市。",
            )
            made[topic].add(project.pk)
    run = clustering.run_clustering(k=2, now=NOW)
    # Every member is a sample here (six per cluster): each cluster is one topic.
    clusters = {frozenset(c.sample_project_ids) for c in run.clusters.all()}
    assert clusters == {frozenset(made["medical"]), frozenset(made["energy"])}
    words = set().union(*(c.theme_words for c in run.clusters.all()))
    assert words & {"储能", "新能源", "锂电池"} and words & {"医院", "医疗器械", "临床"}
    for word in words:
        assert not any(brand in word for brand in ("蓝鲸", "东岳", "芯原", "锐思")), word
        assert not any(city in word for city in ("合肥", "西安")), word


def test_a_project_without_a_summary_is_left_out():
    make_topics()
    ProjectFactory(summary="", search_text="储能 锂电池 新能源")
    run = clustering.run_clustering(k=2, now=NOW)
    assert run.project_count == 12


def test_only_recent_runs_are_kept(monkeypatch):
    monkeypatch.setattr(clustering, "RUNS_KEPT", 2)
    make_topics()
    for _ in range(3):
        clustering.run_clustering(k=2, now=NOW)
    assert ClusterRun.objects.count() == 2
    assert TopicCluster.objects.count() == 4


def test_sample_projects_shown_are_limited_to_the_viewers_scope():
    org = make_org(["catalog.view_project"])
    made = make_topics()
    for project in made["medical"][:3]:
        project.owner, project.department = org.b_user, org.dept_b
        project.save()
    for project in made["medical"][3:] + made["energy"]:
        project.owner, project.department = org.dept_user, org.dept_a
        project.save()
    clustering.run_clustering(k=2, now=NOW)
    for user, dept in ((org.b_user, org.dept_b), (org.dept_user, org.dept_a)):
        data = clustering.latest_clusters(user)
        assert sum(c["size"] for c in data["clusters"]) == 12  # clusters are global
        shown = {s["id"] for c in data["clusters"] for s in c["samples"]}
        assert shown
        visible = {p.pk for group in made.values() for p in group if p.department_id == dept.pk}
        assert shown <= visible


def test_the_job_runs_the_clustering_and_stores_a_run(django_capture_on_commit_callbacks):
    make_topics()
    with django_capture_on_commit_callbacks(execute=True):
        row = run_clustering_now.enqueue(2)
    row.refresh_from_db()
    assert row.status == Job.Status.SUCCEEDED, row.error
    run = ClusterRun.objects.get()
    assert row.result == {"cluster_run": run.pk, "projects": 12, "clusters": 2}


def test_the_weekly_job_is_scheduled_and_records_its_run():
    make_topics()
    weekly_clustering.task()
    row = Job.objects.get(name=weekly_clustering.job_name)
    assert row.status == Job.Status.SUCCEEDED, row.error
    assert ClusterRun.objects.get().cluster_count == 2


def test_words_kept_for_themes():
    assert clustering.analyze("公司 储能 2024 深圳市 AI 的 新能源") == ["储能", "ai", "新能源"]
