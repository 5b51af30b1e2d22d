import pytest

from wirework.cli.pipework_args import parse, split_own_options
from wirework.errors import InvalidInput


def test_seed_command_line() -> None:
    cmd = parse(["br0", "-i", "eth0", "my-test1", "192.168.114.100/24@192.168.114.1"])
    assert cmd.action == "attach" and cmd.guest == "my-test1"
    assert cmd.attach == {"host_if": "br0", "ifname": "eth0", "host_ifname": None, "mac": None, "vlan": None,
                          "ip": "192.168.114.100/24", "gateway": "192.168.114.1"}


def test_defaults_to_eth1_and_mac_vlan() -> None:
    cmd = parse(["ovsbr0", "-l", "myveth", "c1", "10.0.0.5/24", "U:c1@20"])
    assert cmd.attach["ifname"] == "eth1" and cmd.attach["host_ifname"] == "myveth"
    assert cmd.attach["mac"] == "U:c1" and cmd.attach["vlan"] == "20"
    assert parse(["ovsbr0", "c1", "10.0.0.5/24", "@30"]).attach["vlan"] == "30"
    assert parse(["ovsbr0", "c1", "10.0.0.5/24", "02:00:00:00:00:01"]).attach["mac"] == "02:00:00:00:00:01"


def test_dhcp_forms() -> None:
    assert parse(["br0", "c1", "dhcp"]).attach["dhcp_client"] == "auto"
    assert parse(["br0", "c1", "udhcpc", "U:x"]).attach["dhcp_client"] == "udhcpc"
    assert parse(["br0", "c1", "dhclient"]).attach["dhcp"] is True


def test_host_by_mac() -> None:
    cmd = parse(["mac:02:11:22:33:44:55", "c1", "10.0.0.5/24"])
    assert cmd.attach["host_if"] == "" and cmd.attach["host_mac"] == "02:11:22:33:44:55"


def test_subcommands_and_wait() -> None:
    assert parse(["route", "c1", "add", "10.0.0.0/8", "via", "10.1.1.1"]).args == ("add", "10.0.0.0/8", "via", "10.1.1.1")
    assert parse(["rule", "c1", "add", "from", "10.0.0.0/24", "table", "5"]).action == "rule"
    assert parse(["tc", "c1", "qdisc", "add", "dev", "eth1", "root", "tbf"]).action == "tc"
    assert parse(["--wait", "-i", "eth2"]).ifname == "eth2"
    assert parse(["--wait"]).ifname == "eth1"


@pytest.mark.parametrize("argv", [[], ["br0"], ["br0", "c1"], ["br0", "-i"], ["br0", "c1", "1.2.3.4/24", "x", "y"],
                                  ["br0", "-a", "5", "c1", "1.2.3.4/24"], ["br0", "-a", "6", "c1", "1.2.3.4/24"],
                                  ["route", "c1"]])
def test_bad_lines(argv: list[str]) -> None:
    with pytest.raises(InvalidInput, match="pipework command line"):
        parse(argv)


def test_own_options_anywhere() -> None:
    own, rest = split_own_options(["br0", "--netns", "h1", "c1", "10.0.0.2/24", "--dry-run", "--format=json"])
    assert own == {"--netns": "h1", "--dry-run": "1", "--format": "json"}
    assert rest == ["br0", "c1", "10.0.0.2/24"]
