def test_password_grant_returns_token_pair(make_user, make_client, oauth):
    make_user()
    reg = make_client()
    resp = oauth.password(reg)
    assert resp.status_code == 200, resp.json
    body = resp.json
    assert body["token_type"] == "Bearer"
    assert body["refresh_token"]
