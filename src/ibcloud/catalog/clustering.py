"""Topic clustering of project descriptions (项目主题聚类), so admins see what they collect.

A run (:func:`run_clustering`) is global: it reads every project's business summary (its
description) without the project's own names, cuts it into words (jieba), leaves out words that
say nothing of a topic (stop words, numbers, place names: places are charted elsewhere), weighs
words by TF-IDF, groups projects with k-means (a fixed ``random_state``, so the same
catalog gives the same clusters) and stores a :class:`ClusterRun` with one :class:`TopicCluster`
per group: its theme words (the heaviest terms of the centroid), its size, how many of its
projects were first seen in the last window and in the window before (growth), and the projects
nearest its centre as samples. The weekly job and the "run now" button are in
:mod:`ibcloud.catalog.dashboard_tasks`.

Showing a run (:func:`latest_clusters`) filters the sample projects by the viewer's data scope:
the clusters are aggregate figures, the projects behind them are not everyone's to see.
"""

from __future__ import annotations

import datetime
import functools
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from django.db import transaction
from django.urls import NoReverseMatch
from django.utils import timezone
from django.utils.translation import gettext_lazy

from ibcloud.catalog.models import ClusterRun, Project, TopicCluster
from ibcloud.catalog.normalization.places import division_index
from ibcloud.catalog.segmentation import segment
from ibcloud.core.parameters import define
from ibcloud.core.scoping import restrict

CLUSTER_COUNT = define(
    "catalog.cluster_count",
    default=8,
    kind=int,
    minimum=2,
    maximum=50,
    label=gettext_lazy("Topic clustering: number of clusters (fewer when there are few projects)"),
)
CLUSTER_WINDOW_DAYS = define(
    "catalog.cluster_window_days",
    default=30,
    kind=int,
    minimum=1,
    maximum=365,
    label=gettext_lazy("Topic clustering: growth window in days (recent vs the window before)"),
)
CLUSTER_MAX_FEATURES = define(
    "catalog.cluster_max_features",
    default=5000,
    kind=int,
    minimum=100,
    maximum=50000,
    label=gettext_lazy("Topic clustering: vocabulary size (most frequent words kept)"),
)

#: theme words stored per cluster, and sample projects (nearest the centre)
THEME_WORDS = 8
SAMPLES = 10
#: runs kept; older ones are deleted after each run
RUNS_KEPT = 20
#: above this many projects, mini-batch k-means (much faster, nearly as good)
MINI_BATCH_ABOVE = 20_000
#: a word in more than this share of the projects says nothing about a topic
MAX_DOCUMENT_SHARE = 0.6

#: words that describe any company or any financing, not a topic
STOP_WORDS = frozenset(
    """
    公司 企业 集团 有限公司 有限责任公司 股份 股份有限公司 控股 融资 产品 项目 科技 技术 服务
    行业 领域 市场 业务 提供 主要 核心 专注 专注于 致力 致力于 以及 一家 一个 进行 通过 我们
    客户 平台 团队 发展 成立 位于 拥有 成为 国内 国际 全国 全球 领先 行业领先 知名 优秀 相关
    解决方案 方案 应用 研发 生产 销售 运营 管理 建设 资金 用于 本轮 轮次 投资 投资方 估值
    万元 亿元 美元 人民币 元 天使 天使轮 pre 轮 以上 以下 等 的 和 与 及 在 是 为 有 了 对
    将 于 其 并 已 也 都 由 可 能 从 向 到 该 各 包括 主要包括 目前 现有 未来 持续 不断 实现
    多个 多家 超过 累计 年 月 日 用户 合作 合作伙伴 开发 设计 制造 新型 高新技术 高新技术企业
    专精特新 小巨人 独角兽 co ltd inc limited company
    扩充 扩大 拓展 布局 迭代 升级 提升 加大 推进 打造 构建 覆盖 面向 补充 流动 流动资金
    """.split()
)
_PLACE_SUFFIX = re.compile(r"^.{2,}[省市县区]$")
_HAS_WORD = re.compile(r"[\w]", re.UNICODE)
_ONLY_DIGITS = re.compile(r"^[\d.,%]+$")


def keep_word(word: str) -> bool:
    """Whether a segmented word may be a theme word: two characters or more, not a number, not a
    stop word, not a place name (``深圳市``, ``合肥``: places are charted elsewhere)."""
    return (
        len(word) >= 2
        and word not in STOP_WORDS
        and _HAS_WORD.search(word) is not None
        and _ONLY_DIGITS.match(word) is None
        and _PLACE_SUFFIX.match(word) is None
        and word not in place_names()
    )


@functools.cache
def place_names() -> frozenset[str]:
    """Province and city names with their short forms (``合肥市``, ``合肥``, ``广西``).

    Districts and counties are left out: their short forms include everyday words (新华, 和平).
    """
    return frozenset(
        name
        for name, divisions in division_index().by_name.items()
        if any(division.level != "area" for division in divisions)
    )


def analyze(text: str) -> list[str]:
    """The words of a space-separated segmented text that count for clustering."""
    return [word for word in (token.lower() for token in text.split()) if keep_word(word)]


def description_words(summary: str, names: Iterable[str]) -> list[str]:
    """The words of a project's summary that count for clustering.

    The project's own names are cut out first: summaries open with them (``蓝鲸科技成立于合肥，
    专注于…``), and a brand is not a topic.
    """
    for name in sorted({n for n in names if n}, key=len, reverse=True):
        summary = summary.replace(name, " ")
    return analyze(segmented(summary))


def segmented(text: str) -> str:
    """``text`` cut into words (jieba), space-separated, like the ``search_text`` column."""
    return " ".join(segment(text))


def cluster_cap(documents: int) -> int:
    """The most clusters ``documents`` projects support: about sqrt(n / 2), at least one."""
    return max(1, int(math.sqrt(documents / 2)))


def _documents(projects: Iterable[dict]) -> tuple[list[int], list[list[str]], list]:
    ids: list[int] = []
    words: list[list[str]] = []
    seen: list = []
    for row in projects:
        tokens = description_words(row["summary"] or "", (row["name"], row["full_name"]))
        if tokens:
            ids.append(row["pk"])
            words.append(tokens)
            seen.append(row["first_seen_at"])
    return ids, words, seen


@dataclass(frozen=True)
class GrowthWindows:
    """The last window, ``[recent_from, end)``, and the one before it."""

    end: datetime.datetime
    recent_from: datetime.datetime
    previous_from: datetime.datetime

    @classmethod
    def ending(cls, end: datetime.datetime, days: int) -> GrowthWindows:
        length = datetime.timedelta(days=days)
        return cls(end=end, recent_from=end - length, previous_from=end - 2 * length)

    def classify(self, moment: datetime.datetime | None) -> str:
        """ "recent", "previous" or "" for a project first seen at ``moment``."""
        if moment is None or moment >= self.end or moment < self.previous_from:
            return ""
        return "recent" if moment >= self.recent_from else "previous"


def growth_percent(recent: int, previous: int) -> float | None:
    """Growth from the previous window to the last, in percent; ``None`` when there was nothing
    before (a new topic, or no activity at all)."""
    if previous == 0:
        return None
    return round((recent - previous) * 100.0 / previous, 1)


def _cluster(matrix, k: int, random_state: int = 0):
    from sklearn.cluster import KMeans, MiniBatchKMeans

    if matrix.shape[0] > MINI_BATCH_ABOVE:
        model = MiniBatchKMeans(n_clusters=k, random_state=random_state, batch_size=4096, n_init=3)
    else:
        model = KMeans(n_clusters=k, random_state=random_state, n_init=4)
    labels = model.fit_predict(matrix)
    return labels, model.cluster_centers_


def run_clustering(
    k: int | None = None,
    now: datetime.datetime | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> ClusterRun:
    """Cluster every project's text and store the run (see the module docstring).

    ``k`` overrides the ``catalog.cluster_count`` parameter; either way it is capped by
    :func:`cluster_cap`. Too few projects (or no words left after the stop words) give a run
    with no clusters, never an error.
    """
    from sklearn.feature_extraction.text import TfidfVectorizer

    report = progress or (lambda percent, message: None)
    now = now or timezone.now()
    requested = k or CLUSTER_COUNT.get()
    window_days = CLUSTER_WINDOW_DAYS.get()
    max_features = CLUSTER_MAX_FEATURES.get()
    windows = GrowthWindows.ending(now, window_days)

    report(5, "reading projects")
    rows = Project.objects.order_by("pk").values(
        "pk", "name", "full_name", "summary", "first_seen_at"
    )
    ids, words, seen = _documents(rows.iterator(chunk_size=2000))
    parameters: dict[str, Any] = {
        "k": requested,
        "window_days": window_days,
        "max_features": max_features,
        "window_end": now.isoformat(),
    }
    k_used = min(requested, cluster_cap(len(ids)))
    matrix = terms = None
    if len(ids) >= 2 and k_used >= 2:
        report(30, "weighing words")
        vectorizer = TfidfVectorizer(
            analyzer=lambda tokens: tokens,
            max_features=max_features,
            # A word in (nearly) every project is no theme; with few projects keep them all.
            max_df=MAX_DOCUMENT_SHARE if len(ids) >= 10 else 1.0,
            min_df=2 if len(ids) >= 50 else 1,
            sublinear_tf=True,
        )
        try:
            matrix = vectorizer.fit_transform(words)
            terms = vectorizer.get_feature_names_out()
        except ValueError:  # no word survived max_df/min_df
            matrix = None
    distinct = 0 if matrix is None else _distinct_rows(matrix)
    k_used = min(k_used, distinct)
    parameters["k_used"] = max(k_used, 0)
    parameters["documents"] = len(ids)

    clusters: list[TopicCluster] = []
    if matrix is not None and k_used >= 2:
        report(50, "clustering")
        labels, centres = _cluster(matrix, k_used)
        report(85, "describing clusters")
        clusters = _describe(matrix, labels, centres, terms, ids, seen, windows)
        parameters["vocabulary"] = len(terms)

    with transaction.atomic():
        run = ClusterRun.objects.create(
            project_count=len(ids), cluster_count=len(clusters), parameters=parameters
        )
        for number, cluster in enumerate(clusters, start=1):
            cluster.run = run
            cluster.number = number
        TopicCluster.objects.bulk_create(clusters)
        stale = ClusterRun.objects.order_by("-created_at", "-pk").values_list("pk", flat=True)
        ClusterRun.objects.filter(pk__in=list(stale[RUNS_KEPT:])).delete()
    report(100, f"{len(clusters)} clusters over {len(ids)} projects")
    return run


def _distinct_rows(matrix) -> int:
    """How many different vectors there are (k-means cannot make more clusters than that)."""
    matrix = matrix.tocsr()
    matrix.sort_indices()
    rows = set()
    for i in range(matrix.shape[0]):
        start, end = matrix.indptr[i], matrix.indptr[i + 1]
        rows.add((matrix.indices[start:end].tobytes(), matrix.data[start:end].round(6).tobytes()))
    return len(rows)


def _describe(matrix, labels, centres, terms, ids, seen, windows: GrowthWindows):
    """One unsaved TopicCluster per label, largest first."""
    centres = np.asarray(centres)
    result = []
    for label in range(centres.shape[0]):
        members = np.flatnonzero(labels == label)
        if members.size == 0:
            continue
        centre = centres[label]
        top_terms = [str(terms[i]) for i in np.argsort(-centre)[:THEME_WORDS] if centre[i] > 0]
        # Rows are L2-normalized, so the dot product ranks members by closeness to the centre.
        closeness = matrix[members] @ centre
        nearest = members[np.argsort(-np.asarray(closeness).ravel(), kind="stable")[:SAMPLES]]
        recent = previous = 0
        for index in members:
            bucket = windows.classify(seen[index])
            recent += bucket == "recent"
            previous += bucket == "previous"
        result.append(
            TopicCluster(
                number=0,
                theme_words=top_terms,
                size=int(members.size),
                recent=recent,
                previous=previous,
                sample_project_ids=[int(ids[i]) for i in nearest],
            )
        )
    result.sort(key=lambda c: (-c.size, c.theme_words))
    return result


# --- Reading a run --------------------------------------------------------------------------------


def _project_url(project: Project) -> str:
    try:
        return project.get_absolute_url()
    except NoReverseMatch:  # the project pages are another part of the catalog
        return ""


def cluster_data(cluster: TopicCluster, visible: dict[int, Project], samples: int = 5) -> dict:
    """One cluster as the page and the API show it; samples only among ``visible`` projects."""
    shown = [visible[pk] for pk in cluster.sample_project_ids if pk in visible][:samples]
    return {
        "id": cluster.pk,
        "number": cluster.number,
        "theme_words": list(cluster.theme_words),
        "size": cluster.size,
        "recent": cluster.recent,
        "previous": cluster.previous,
        "growth": growth_percent(cluster.recent, cluster.previous),
        "samples": [{"id": p.pk, "name": p.name, "url": _project_url(p)} for p in shown],
    }


def visible_samples(user: Any, clusters: Iterable[TopicCluster]) -> dict[int, Project]:
    """The sample projects of ``clusters`` that ``user`` may see, by id (one query)."""
    wanted = {pk for cluster in clusters for pk in cluster.sample_project_ids}
    projects = restrict(Project.objects.filter(pk__in=wanted), user, "view").only("pk", "name")
    return {project.pk: project for project in projects}


def run_data(run: ClusterRun | None) -> dict | None:
    if run is None:
        return None
    return {
        "id": run.pk,
        "created_at": run.created_at.isoformat(),
        "project_count": run.project_count,
        "cluster_count": run.cluster_count,
        "parameters": run.parameters,
    }


def latest_run() -> ClusterRun | None:
    return ClusterRun.objects.order_by("-created_at", "-pk").first()


def latest_clusters(user: Any, run: ClusterRun | None = None) -> dict:
    """The latest run (or ``run``) with its clusters, sample projects filtered by ``user``'s
    scope: ``{"run": {...} | None, "clusters": [...]}``."""
    run = run or latest_run()
    clusters = list(run.clusters.order_by("-size", "number")) if run else []
    visible = visible_samples(user, clusters)
    return {"run": run_data(run), "clusters": [cluster_data(c, visible) for c in clusters]}
