"""What an operator meets when running Linli: a reload picks up a new compound, a homeserver
that does not answer or does not know Linli is one clear line, a second instance is refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bridge.app import StartError
from bridge.cli import single_instance
from bridge.config import HomeserverConfig
from tests.integration.harness import EXAMPLES, Harness
from tests.integration.matrix_client import ResidentClient


async def test_a_reload_applies_a_compound_added_to_the_config(harness: Harness, make_user) -> None:
    harness.only("heping")
    bridge = await harness.start_bridge()
    visitor: ResidentClient = await make_user()
    # Not yet there: the community space does not list 幸福家园.
    assert "xingfu" not in bridge.rooms.compounds
    shutil.copy(EXAMPLES / "compounds" / "xingfu.yaml", harness.rooms_dir / "compounds")
    report = await bridge.reload(harness.rooms())
    assert report.done  # its space and rooms were created
    assert "xingfu" in bridge.services.rooms.compounds
    lobby = await visitor.join(harness.alias("xingfu-lobby"))  # the lobby is open to all
    assert lobby.startswith("!")
    # A bot reads the new compound too: the role table knows its staff.
    compound = bridge.services.rooms.compounds["xingfu"]
    table = await bridge.services.roles.table(compound)
    assert table.staff  # the compound's staff from its YAML
    # A second reload with nothing new changes nothing.
    assert not (await bridge.reload(harness.rooms())).done


async def test_a_homeserver_that_does_not_answer_is_one_clear_line(harness: Harness) -> None:
    harness.only("heping")
    bridge = await harness.start_bridge(apply=False)
    await harness.stop_bridge(bridge)
    config = harness.config.model_copy(
        update={"homeserver": HomeserverConfig(url="http://127.0.0.1:9", server_name="x")}
    )
    from bots import ALL_BOTS
    from bridge.app import Bridge
    from bridge.matrix import MatrixClient

    client = MatrixClient(
        config.homeserver.url, config.appservice.as_token, "@linli:x", max_attempts=1
    )
    down = Bridge(config, harness.rooms(), ALL_BOTS, client=client)
    with pytest.raises(StartError) as e:
        await down.start()
    assert "does not answer" in str(e.value) and "http://127.0.0.1:9" in str(e.value)
    await down.stop()


async def test_a_homeserver_without_linlis_registration_is_one_clear_line(
    harness: Harness,
) -> None:
    harness.only("heping")
    harness.as_token = "a-token-the-homeserver-never-heard-of"
    with pytest.raises(StartError) as e:
        await harness.start_bridge()
    assert "linli registration" in str(e.value)


def test_a_second_instance_on_the_same_database_is_refused(tmp_path: Path) -> None:
    from bench.common import free_port

    harness_config = Harness(
        homeserver_url="http://127.0.0.1:9",
        server_name="x",
        as_token="a" * 20,
        hs_token="b" * 20,
        port=free_port(),
        workdir=tmp_path,
    ).config
    with single_instance(harness_config):
        with pytest.raises(StartError) as e, single_instance(harness_config):
            pass
        assert "another Linli is running" in str(e.value)
    with single_instance(harness_config):  # released when the first stopped
        pass


async def test_plan_shows_a_room_renamed_by_hand_and_apply_puts_it_back(
    harness: Harness, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from bridge.cli import main as linli

    harness.only("heping")
    bridge = await harness.start_bridge()
    hall = await bridge.store.rooms.by_key("heping:hall")
    assert hall is not None
    await harness.stop_bridge(bridge)
    config = harness.write_bridge_yaml()
    assert await asyncio.to_thread(linli, ["-c", str(config), "plan"]) == 0
    assert "No changes" in capsys.readouterr().out
    # Someone with the power renames the hall by hand.
    from bridge.matrix import MatrixClient

    admin = MatrixClient(harness.homeserver_url, harness.as_token, harness.config.bot_user_id)
    try:
        await admin.put_state(hall.room_id, "m.room.name", {"name": "随便聊聊"})
        assert await asyncio.to_thread(linli, ["-c", str(config), "plan"]) == 0
        out = capsys.readouterr().out
        assert "heping:hall" in out and "name" in out and "No changes" not in out
        assert await asyncio.to_thread(linli, ["-c", str(config), "apply"]) == 0
        assert (await admin.get_state(hall.room_id, "m.room.name"))["name"] == "议事厅"
        capsys.readouterr()
        assert await asyncio.to_thread(linli, ["-c", str(config), "plan"]) == 0
        assert "No changes" in capsys.readouterr().out
    finally:
        await admin.close()
