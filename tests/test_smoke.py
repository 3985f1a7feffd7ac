def test_it_signs_in_and_sees_home(client, auth, actors):
    response = auth.login(actors.member)
    assert response.status_code == 302
    page = client.get("/")
    assert page.status_code == 200
    assert "Mina Member" in page.get_data(as_text=True)
