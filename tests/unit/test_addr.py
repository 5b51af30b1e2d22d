import pytest

from wirework.errors import InvalidInput
from wirework.model.addr import mac_from_text, parse_cidr, parse_ifname, parse_mac, parse_mtu, parse_vlan
from wirework.model.specs import validate_attach


def test_pipework_u_mac_matches_md5_of_text_and_newline() -> None:
    # echo foo | md5sum -> d3b07384d113edec49eaa6238ad5ff00
    assert mac_from_text("foo") == "02:d3:b0:73:84:d1"
    assert parse_mac("U:foo") == "02:d3:b0:73:84:d1"


@pytest.mark.parametrize("value", ["10.0.0.1", "10.0.0.300/24", "10.0.0.1/33", "10.0.0.0/24", "10.0.0.255/24", "x/24"])
def test_bad_cidr(value: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_cidr(value)
    assert value in str(err.value)


def test_good_cidr() -> None:
    assert str(parse_cidr("192.168.114.100/24")) == "192.168.114.100/24"
    assert str(parse_cidr("10.0.0.1/31")) == "10.0.0.1/31"
    assert str(parse_cidr("fd00::5/64")) == "fd00::5/64"


@pytest.mark.parametrize("value", ["01:00:5e:00:00:01", "zz:00:00:00:00:00", "02:00:00:00:00", "00:00:00:00:00:00"])
def test_bad_mac(value: str) -> None:
    with pytest.raises(InvalidInput):
        parse_mac(value)


@pytest.mark.parametrize("value", ["a" * 16, "", "a/b", "a b", "a:b", "."])
def test_bad_ifname(value: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_ifname(value)
    assert "invalid" in str(err.value)


@pytest.mark.parametrize("value", ["0", "4095", "x", "-1"])
def test_bad_vlan(value: str) -> None:
    with pytest.raises(InvalidInput, match="VLAN"):
        parse_vlan(value)


def test_mtu_range() -> None:
    assert parse_mtu("1450") == 1450
    with pytest.raises(InvalidInput):
        parse_mtu("67")


def test_gateway_outside_subnet() -> None:
    with pytest.raises(InvalidInput, match="outside the subnet 10.0.0.0/24"):
        validate_attach("g", "br0", ip="10.0.0.2/24", gateway="10.0.1.1")


def test_address_or_dhcp_required() -> None:
    with pytest.raises(InvalidInput, match="dhcp"):
        validate_attach("g", "br0")
    with pytest.raises(InvalidInput, match="not both"):
        validate_attach("g", "br0", ip="10.0.0.2/24", dhcp=True)


def test_spec_normalises() -> None:
    spec = validate_attach("g", "br0", ip="10.0.0.2/24", gateway="10.0.0.1", mac="02:AA:bb:cc:dd:ee", vlan="7")
    assert spec.mac == "02:aa:bb:cc:dd:ee" and spec.vlan == 7 and spec.cont_ifname == "eth1"
