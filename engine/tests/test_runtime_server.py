"""runtime/server.py: the 127.0.0.1 server of the sessions' pages serves what its folders hold, and nothing a
link leads to outside them."""

import urllib.error
import urllib.request

import pytest


def test_a_link_in_web_that_leads_outside_it_is_not_served(tmp_path):
    from pyo3_pyodide.runtime import server

    web = tmp_path / "web"
    web.mkdir()
    (web / "index.html").write_text("<p>page</p>")
    secret = tmp_path / "secret.txt"
    secret.write_text("not for the browser")
    (web / "leak.txt").symlink_to(secret)
    (web / "inside.txt").symlink_to(web / "index.html")  # a link that stays inside is fine
    site = server.Site(folders={"/": web})
    with server.serving(site) as url:
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(url + "leak.txt", timeout=30)
        assert refused.value.code == 404
        with urllib.request.urlopen(url + "inside.txt", timeout=30) as response:
            assert response.read() == b"<p>page</p>"
