from jasper_helpers import ACCOUNT, CC, ICCID, USERNAME, basic


async def test_no_credentials_asks_for_basic_auth_without_an_error_code(cc: CC) -> None:
    answer = await cc.http.get(f"{cc.api}/devices/{ICCID}")

    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Basic realm="Jasper"'
    assert "errorCode" not in answer.json()


async def test_wrong_key_unknown_user_revoked_and_expired_keys_are_10000001(cc: CC) -> None:
    await cc.seed_devices({"iccid": ICCID, "status": "ACTIVATED"})
    other = {"userName": "second", "apiKey": "second-key", "accountId": ACCOUNT}
    await cc.admin("POST", "/users", json=other)
    wrong = await cc.call("GET", f"/devices/{ICCID}", headers=basic(api_key="nope"))
    unknown = await cc.call("GET", f"/devices/{ICCID}", headers=basic(username="who"))
    ok_before = await cc.call("GET", f"/devices/{ICCID}", headers=basic("second", "second-key"))
    await cc.admin("POST", "/users/second/expire")
    expired = await cc.call("GET", f"/devices/{ICCID}", headers=basic("second", "second-key"))
    await cc.admin("POST", f"/users/{USERNAME}/revoke")
    revoked = await cc.call("GET", f"/devices/{ICCID}")

    assert ok_before.status_code == 200
    for answer in (wrong, unknown, expired, revoked):
        assert answer.status_code == 401
        assert answer.json() == {"errorMessage": "Invalid credentials", "errorCode": "10000001"}
    assert (await cc.stats())["auth_refused"] == 4


async def test_a_device_of_another_account_is_not_found(cc: CC) -> None:
    await cc.admin("POST", "/accounts", json={"accountId": "other"})
    await cc.admin("POST", "/devices", json={"accountId": "other", "devices": [{"iccid": ICCID}]})

    answer = await cc.edit(ICCID, status="ACTIVATED")

    assert answer.status_code == 404
    assert answer.json()["errorCode"] == "20000001"
    assert (await cc.sim_device(ICCID))["status"] == "ACTIVATION_READY"


async def test_another_api_version_is_refused(cc: CC) -> None:
    answer = await cc.http.get(f"{cc.root}/rws/api/v2/devices/{ICCID}", headers=basic())

    assert answer.status_code == 400
    assert answer.json()["errorCode"] == "10000024"
