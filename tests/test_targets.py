"""The target host of attack tools run on this host (scanner/normalize/targets.py)."""

from __future__ import annotations

import json

import pytest

from conftest import FIXTURES
from scanner.cli import main
from scanner.normalize.targets import target_host

DEMO = FIXTURES / "demo" / "var" / "log"


@pytest.mark.parametrize("command, host", [
    ("/usr/bin/hydra -l admin -P /tmp/.x/pw.txt 198.51.100.7 http-post-form /wp-login.php:x", "198.51.100.7"),
    ("hydra -f 10.0.0.5 ssh", "10.0.0.5"),
    ("hydra -L users.txt -P pw.txt ssh://db.example.org:2222", "db.example.org"),
    ("medusa -u root -P pw.txt -h 10.0.0.9 -M ssh", "10.0.0.9"),
    ("ncrack -p 22 ssh://db.example.org", "db.example.org"),
    ("python3 patator.py ssh_login host=10.1.1.1 user=root password=FILE0 0=pw.txt", "10.1.1.1"),
    ("crowbar -b rdp -s 192.0.2.9/32 -u admin -C pw.txt", "192.0.2.9/32"),
    ("wpscan --url https://blog.example.com/ --passwords pw.txt", "blog.example.com"),
    ("nmap -sS -p 1-1000 203.0.113.0/24", "203.0.113.0/24"),
    ("masscan -p80 10.0.0.0/8 --rate 10000", "10.0.0.0/8"),
    ("/usr/bin/nikto -h http://victim.example/", "victim.example"),
    ("sqlmap -u http://v.example/?id=1 --batch", "v.example"),
    ("nmap -6 2001:db8::1", "2001:db8::1"),
])
def test_target_of_an_attack_tool(command: str, host: str) -> None:
    assert target_host(command.split()) == host


@pytest.mark.parametrize("command", [
    "/usr/bin/man hydra",                 # not the tool
    "/usr/bin/apt install -y hydra nmap",
    "zgrab2 http",                        # targets on stdin
    "hydra -L users.txt -P pw.txt",       # names no host
    "/usr/bin/ssh 10.0.0.1",
])
def test_no_target(command: str) -> None:
    assert target_host(command.split()) is None


def test_demo_hydra_run_names_its_victim(tmp_path) -> None:
    out = tmp_path / "hits.jsonl"
    assert main(["scan", "-q", "--jobs", "1", "-f", "jsonl", "-o", str(out), str(DEMO)]) == 0
    runs = [json.loads(line) for line in out.read_text().splitlines()
            if "Network Password Brute-Forcer Run" in line]
    assert sorted(f"{h['source']}:{h['line']}" for h in runs) == ["audit/audit.log:19", "auth.log:73"]
    assert {h["fields"]["target_host"] for h in runs} == {"198.51.100.7"}
    assert all(h["derived"] and h["level"] == "high" for h in runs)


def test_demo_hydra_run_names_who_ran_it(capsys) -> None:
    """The table's details say as whom the tool ran (sudo's target, Sigma's User) and who
    invoked it (the intruder's account)."""
    assert main(["scan", "-q", "--jobs", "1", str(DEMO)]) == 0
    rows = [line for line in capsys.readouterr().out.splitlines()
            if "Network Password Brute-Forcer Run" in line and "auth.log:73" in line]
    assert len(rows) == 1
    assert "user=root parent_user=webadmin target_host=198.51.100.7" in rows[0]
