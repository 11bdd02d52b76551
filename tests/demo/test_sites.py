"""The demo sites behave like the sites the crawler is built for: listings, an API, protections."""

import io
import re

import parsel
import pytest

from ibcloud.demo.sites import DemoData, DemoState
from ibcloud.demo.sites.app import DemoApp
from ibcloud.demo.sites.data import generate_investors, generate_projects

BROWSER = {
    "User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    "Accept-Language": "zh-CN,zh;q=0.9",
}


def selector(response) -> parsel.Selector:
    return parsel.Selector(text=response.text)


def follow_list(http, sites, start: str, headers=None) -> tuple[list[str], int]:
    """Follow rel=next from ``start``; returns the detail links and the number of list pages."""
    url, links, pages = sites.url(start), [], 0
    while url:
        response = http.get(url, headers=headers)
        assert response.status_code == 200, url
        page = selector(response)
        links += page.css(".project-item a.project-link::attr(href)").getall()
        pages += 1
        following = page.css("a.next[rel=next]::attr(href)").get()
        url = sites.url(following) if following else None
    return links, pages


# --- data --------------------------------------------------------------------------------------


def test_data_is_deterministic_and_independent_of_the_count():
    assert generate_projects(60) == generate_projects(1500)[:60]
    assert generate_investors(80) == generate_investors(80)
    projects = generate_projects(1500)
    assert len({project.name for project in projects}) == 1500
    assert any(project.amount == "未披露" for project in projects)
    assert any(project.amount.startswith("US$") for project in projects)
    assert any("年" in project.founded for project in projects)
    assert any("-" in project.founded for project in projects)


# --- project listing ---------------------------------------------------------------------------


def test_project_list_paginates_ten_per_page_with_a_next_link(sites, http):
    links, pages = follow_list(http, sites, "/projects/")
    assert pages == 6
    assert len(links) == len(set(links)) == 60
    assert links[0] == "/projects/60.html"  # newest first
    assert http.get(sites.url("/projects/?page=3")).text.count('class="project-item"') == 10
    assert http.get(sites.url("/projects/?page=7")).status_code == 404


def test_project_detail_labels_every_field(sites, http):
    project = sites.data.projects[4]
    page = selector(http.get(sites.url("/projects/5.html")))
    assert page.css("h1.project-name::text").get() == project.name
    assert page.css("dd.full-name::text").get() == project.full_name
    assert page.css("dd.industry::text").get() == project.industry
    assert page.css("dd.round::text").get() == project.round
    assert page.css("dd.amount::text").get() == project.amount
    assert page.css("dd.founded::text").get() == project.founded
    assert page.css("dd.website a::attr(href)").get() == project.website
    assert page.xpath("//dt[.='融资金额']/following-sibling::dd[1]/text()").get() == project.amount
    assert page.css("p.summary::text").get() == project.summary
    assert http.get(sites.url("/projects/61.html")).status_code == 404


def test_layout_v2_moves_the_amount_so_the_v1_selector_stops_matching(sites, http):
    project = sites.data.projects[0]
    response = http.post(sites.url("/_control/layout?value=v2"))
    assert response.json()["project_layout"] == "v2"
    page = selector(http.get(sites.url("/projects/1.html")))
    assert page.css(".amount").get() is None
    assert page.xpath("//dt[.='融资金额']").get() is None
    assert page.css(".financing-size::text").get() == project.amount
    assert page.css("dd.round::text").get() == project.round  # the other fields are unchanged

    http.post(sites.url("/_control/layout?value=v1"))
    assert selector(http.get(sites.url("/projects/1.html"))).css(".amount::text").get()


def test_control_switches_only_from_this_machine():
    app = DemoApp(DemoData.build(projects=3, investors=3, protected=3), DemoState())
    statuses = []

    def start_response(status, headers):
        statuses.append(status)

    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/_control/layout",
        "QUERY_STRING": "value=v2",
        "REMOTE_ADDR": "192.0.2.7",
        "wsgi.input": io.BytesIO(),
    }
    app(environ, start_response)
    assert statuses == ["403 Forbidden"]
    assert app.state.project_layout == "v1"


def test_untrusted_text_is_escaped():
    data = DemoData.build(projects=1, investors=1, protected=1)
    hostile = data.projects[0].__class__(
        **{**data.projects[0].__dict__, "name": "<script>alert(1)</script>", "summary": "a & b"}
    )
    data.projects[0] = hostile
    data.l3_projects[0] = hostile
    app = DemoApp(data, DemoState())
    bodies = []
    for path in ("/projects/", "/projects/1.html", "/feed/projects.xml"):
        environ = {
            "REQUEST_METHOD": "GET",
            "PATH_INFO": path,
            "REMOTE_ADDR": "127.0.0.1",
            "HTTP_HOST": "demo",
            "wsgi.input": io.BytesIO(),
        }
        bodies.append(b"".join(app(environ, lambda status, headers: None)).decode())
    for body in bodies:
        assert "<script>alert" not in body
        assert "&lt;script&gt;" in body


def test_robots_txt_forbids_the_private_area(sites, http):
    robots = http.get(sites.url("/robots.txt"))
    assert robots.headers["Content-Type"].startswith("text/plain")
    assert "Disallow: /private/" in robots.text.splitlines()
    assert http.get(sites.url("/private/reports.html")).status_code == 200


def test_feed_lists_the_newest_twenty_projects(sites, http):
    response = http.get(sites.url("/feed/projects.xml"))
    assert "rss" in response.headers["Content-Type"]
    feed = parsel.Selector(text=response.text, type="xml")
    links = feed.xpath("//item/link/text()").getall()
    assert len(links) == 20
    assert links[0] == sites.url("/projects/60.html")
    assert feed.xpath("//item[1]/category[@domain='round']/text()").get() == (
        sites.data.projects[59].round
    )


# --- investor API ------------------------------------------------------------------------------


def test_investor_api_pages_by_cursor_until_null(sites, http):
    ids, url, pages = [], sites.url("/investors/api/investors"), 0
    cursor = None
    while True:
        answer = http.get(url, params={"cursor": cursor} if cursor else {}).json()
        assert answer["total"] == 80
        ids += [investor["id"] for investor in answer["data"]]
        pages += 1
        cursor = answer["next_cursor"]
        if cursor is None:
            break
    assert ids == list(range(1, 81))
    assert pages == 4  # 20 per page by default


def test_investor_api_pages_by_offset_with_limit_at_most_fifty(sites, http):
    url = sites.url("/investors/api/investors")
    answer = http.get(url, params={"offset": 70, "limit": 20}).json()
    assert [investor["id"] for investor in answer["data"]] == list(range(71, 81))
    assert answer["next_cursor"] is None
    assert len(http.get(url, params={"limit": 500}).json()["data"]) == 50
    for bad in ({"limit": "0"}, {"offset": "-1"}, {"cursor": "not-a-cursor"}, {"limit": "x"}):
        response = http.get(url, params=bad)
        assert response.status_code == 400 and "error" in response.json()


def test_investor_api_accepts_the_cursor_in_a_post_body(sites, http):
    url = sites.url("/investors/api/investors")
    first = http.post(url, json={"limit": 30}).json()
    second = http.post(url, json={"cursor": first["next_cursor"], "limit": 30}).json()
    assert [investor["id"] for investor in second["data"]] == list(range(31, 61))
    assert http.post(url, data="[1]", headers={"Content-Type": "application/json"}).status_code == (
        400
    )


def test_investor_detail(sites, http):
    investor = sites.data.investors[6]
    answer = http.get(sites.url("/investors/api/investors/7")).json()["data"]
    assert answer["name"] == investor.name
    assert answer["industries"] == list(investor.industries)
    assert http.get(sites.url("/investors/api/investors/81")).status_code == 404


# --- L1 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},  # python-requests' own user agent
        {"User-Agent": "Scrapy/2.19.0 (+https://scrapy.org)", "Accept-Language": "zh-CN"},
        {"User-Agent": "curl/8.5.0", "Accept-Language": "zh-CN"},
        {"User-Agent": "Mozilla/5.0 (compatible; Googlebot/2.1)", "Accept-Language": "en"},
        {"User-Agent": BROWSER["User-Agent"]},  # a browser always sends Accept-Language
    ],
    ids=["requests", "scrapy", "curl", "bot", "no-accept-language"],
)
def test_l1_refuses_clients_that_are_not_browsers(sites, http, headers):
    response = http.get(sites.url("/l1/"), headers=headers)
    assert response.status_code == 403
    assert http.get(sites.url("/l1/3.html"), headers=headers).status_code == 403


def test_l1_serves_browsers_every_item(sites, http):
    links, pages = follow_list(http, sites, "/l1/", headers=BROWSER)
    assert (len(set(links)), pages) == (30, 3)
    page = selector(http.get(sites.url(links[0]), headers=BROWSER))
    assert page.css("dd.amount::text").get() == sites.data.l1_projects[29].amount


# --- L2 and the proxies ------------------------------------------------------------------------


def test_l2_answers_429_after_the_limit_per_client_ip(sites, http):
    assert http.post(sites.url("/_control/l2_limit?value=5")).json()["l2_limit_per_minute"] == 5
    statuses = [http.get(sites.url(f"/l2/{n}.html")).status_code for n in range(1, 8)]
    assert statuses == [200] * 5 + [429] * 2
    blocked = http.get(sites.url("/l2/"))
    assert blocked.status_code == 429 and "访问过于频繁" in blocked.text

    # Through a proxy the site sees another address, with its own allowance.
    via_proxy = http.get(sites.url("/l2/"), proxies={"http": sites.proxy_urls[0]})
    assert via_proxy.status_code == 200


def test_each_proxy_reaches_the_sites_from_its_own_address(sites, http):
    sites.state.l2_limit_per_minute = 4
    served = 0
    for proxy in sites.proxy_urls:
        for n in range(1, 6):
            response = http.get(sites.url(f"/l2/{n}.html"), proxies={"http": proxy})
            served += response.status_code == 200
    assert served == 3 * 4
    assert set(sites.state.l2_hits) == {"127.0.0.11", "127.0.0.12", "127.0.0.13"}


def test_proxies_require_credentials(sites, http):
    proxy = sites.proxies[0]
    wrong = f"http://demo:wrong@127.0.0.1:{proxy.port}"
    for url in (proxy.address, wrong):
        response = http.get(sites.url("/projects/"), proxies={"http": url})
        assert response.status_code == 407
        assert response.headers["Proxy-Authenticate"].startswith("Basic")
    assert http.get(sites.url("/projects/"), proxies={"http": proxy.url}).status_code == 200


def test_proxies_forward_post_bodies(sites, http):
    url = sites.url("/investors/api/investors")
    answer = http.post(url, json={"offset": 10, "limit": 5}, proxies={"http": sites.proxy_urls[1]})
    assert [investor["id"] for investor in answer.json()["data"]] == [11, 12, 13, 14, 15]


@pytest.mark.parametrize(
    "target", ["http://192.0.2.1/", "http://10.0.0.1:8080/", "http://example.com/"]
)
def test_proxies_refuse_targets_off_this_machine(sites, http, target):
    response = http.get(target, proxies={"http": sites.proxy_urls[0]}, timeout=5)
    assert response.status_code == 403


# --- L3 ----------------------------------------------------------------------------------------


def login(http, sites, password="demo-l3-pass"):  # noqa: S107
    return http.post(
        sites.url("/l3/login"),
        data={"username": "demo", "password": password, "next": "/l3/"},
        allow_redirects=False,
    )


def test_l3_redirects_to_the_login_form(sites, http):
    response = http.get(sites.url("/l3/2.html"), allow_redirects=False)
    assert response.status_code == 302
    assert response.headers["Location"] == "/l3/login?next=/l3/2.html"
    form = selector(http.get(sites.url(response.headers["Location"])))
    assert form.css("form input[name=username]")
    assert form.css("form input[name=password][type=password]")


def test_l3_login_refuses_a_wrong_password(sites, http):
    response = login(http, sites, password="guess")
    assert response.status_code == 200 and "用户名或密码错误" in response.text
    assert "l3_session" not in http.cookies


def test_l3_raw_html_holds_no_items_even_when_logged_in(sites, http):
    response = login(http, sites)
    assert response.status_code == 302 and "l3_session" in http.cookies
    challenge = http.get(sites.url("/l3/"))
    assert challenge.status_code == 200
    assert "document.cookie" in challenge.text
    assert not selector(challenge).css(".project-item")
    # Even with the JavaScript cookie, the items are only data for a script, not markup.
    from ibcloud.demo.sites.l3 import js_token

    http.cookies.set("l3_js", js_token(http.cookies["l3_session"]))
    rendered_by_script = http.get(sites.url("/l3/"))
    assert 'id="page-data"' in rendered_by_script.text
    assert not selector(rendered_by_script).css(".project-item")


@pytest.mark.e2e
def test_l3_shows_items_after_login_and_javascript(sites, demo_browser):
    page = demo_browser.new_page()
    page.goto(sites.url("/l3/"))
    assert "/l3/login" in page.url
    page.fill("input[name=username]", "demo")
    page.fill("input[name=password]", "demo-l3-pass")
    page.click("button[type=submit]")
    page.wait_for_selector("#app[data-rendered]")
    names = page.locator(".project-item a.project-link").all_inner_texts()
    expected = [project.name for project in sites.data.l3_projects[::-1][:10]]
    assert names == expected
    assert page.locator("a.next[rel=next]").get_attribute("href") == "/l3/?page=2"

    page.goto(sites.url("/l3/30.html"))
    page.wait_for_selector("#app[data-rendered]")
    assert page.inner_text("dd.amount") == sites.data.l3_projects[29].amount
    assert re.search(r"l3_js", "; ".join(c["name"] for c in page.context.cookies()))
