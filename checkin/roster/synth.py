"""Seeded synthetic rosters shaped like Taipei's volunteers: realistic test data, no I/O.

The city had 78,633 volunteers in 1,099 teams, about 21% aged 65 and over. The same (n, seed, teams)
always gives the same roster, so tests and benchmarks can name their data by its arguments.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from dataclasses import dataclass
from pathlib import Path

CITY_VOLUNTEERS = 78_633
CITY_TEAMS = 1_099
REFERENCE_YEAR = 2023  # ages are counted as of the 2023 Lantern Festival
FESTIVAL_OPENS = dt.date(2023, 2, 5)
SENIOR_SHARE = 0.21
LAPSED_SHARE = 0.05

# The CSV header written here is the one roster_csv reads (its Chinese spellings).
CSV_HEADER = (
    "志工編號", "姓名", "志工隊", "運用單位", "出生年", "類別", "公司", "紀錄冊編號",
    "電話", "保險起日", "保險迄日", "基礎訓練", "特殊訓練",
)
CATEGORY_LABELS = {
    "general": "一般", "youth": "青年", "senior": "高齡", "corporate": "企業", "family": "家庭",
}

# Surnames weighted roughly by their share in Taiwan's household registry.
_SURNAMES = (
    ("陳", 112), ("林", 83), ("黃", 60), ("張", 53), ("李", 51), ("王", 41), ("吳", 40), ("劉", 32),
    ("蔡", 29), ("楊", 26), ("許", 23), ("鄭", 19), ("謝", 18), ("洪", 15), ("郭", 15), ("邱", 15),
    ("曾", 14), ("廖", 13), ("賴", 13), ("徐", 12), ("周", 12), ("葉", 11), ("蘇", 11), ("莊", 9),
    ("呂", 9), ("江", 9), ("何", 8), ("蕭", 8), ("羅", 8), ("高", 8), ("潘", 6), ("簡", 6),
    ("朱", 6), ("鍾", 6), ("游", 5), ("彭", 5), ("詹", 5), ("胡", 5), ("施", 5), ("沈", 5),
)
_GIVEN_FIRST = "淑美雅怡佳家志建俊宗明文嘉冠宏承信欣佩秀麗惠玉麗淑婉品郁育宜柏彥子芷思語詩庭"
_GIVEN_SECOND = "華玲芬珍君婷萍儀如慧貞蓉雯涵瑜豪偉傑翔銘賢仁德誠安豪宇恩軒瑄妤晴哲凱"

_BUREAUS = ("社會局", "文化局", "觀光傳播局", "民政局", "教育局", "衛生局", "環境保護局", "交通局",
            "消防局", "體育局", "青年局", "捷運局", "工務局公園路燈工程管理處")
_DISTRICTS = ("中正區", "大同區", "中山區", "松山區", "大安區", "萬華區", "信義區", "士林區",
              "北投區", "內湖區", "南港區", "文山區")
_TEAM_TOPICS = ("", "關懷", "導覽", "環保", "交通", "醫護", "文化", "圖書", "社區", "防災", "親子", "長青")
_COMPANIES = ("台灣積體電路製造股份有限公司", "中華電信股份有限公司", "國泰金融控股股份有限公司",
              "富邦金融控股股份有限公司", "台灣大哥大股份有限公司", "統一企業股份有限公司",
              "玉山商業銀行股份有限公司", "遠傳電信股份有限公司", "台達電子工業股份有限公司",
              "中華航空股份有限公司")


@dataclass(frozen=True, slots=True)
class Unit:
    unit_id: str
    name: str


@dataclass(frozen=True, slots=True)
class Team:
    team_id: str
    name: str
    unit_id: str


@dataclass(frozen=True, slots=True)
class Volunteer:
    volunteer_id: str
    name: str
    team_id: str
    birth_year: int
    category: str
    company: str | None
    record_book_no: str
    phone: str
    insured_from: dt.date
    insured_to: dt.date
    training_basic: bool
    training_special: bool


@dataclass(frozen=True)
class Roster:
    units: list[Unit]
    teams: list[Team]
    volunteers: list[Volunteer]


def unit_names() -> list[str]:
    """Every 運用單位 name the generator can use, bureaus first, then district offices."""
    return [f"臺北市政府{b}" for b in _BUREAUS] + [f"臺北市{d}公所" for d in _DISTRICTS]


def _short(unit_name: str) -> str:
    return unit_name.removeprefix("臺北市政府").removeprefix("臺北市")


def _make_teams(count: int, units: list[Unit]) -> list[Team]:
    teams = []
    for i in range(count):
        unit = units[i % len(units)]
        round_no, topic_no = divmod(i // len(units), len(_TEAM_TOPICS))
        suffix = f"第{round_no + 1}隊" if round_no else ""
        name = f"{_short(unit.name)}{_TEAM_TOPICS[topic_no]}志工隊{suffix}"
        teams.append(Team(f"T{i + 1:04d}", name, unit.unit_id))
    return teams


def _insurance(rng: random.Random, lapsed: bool) -> tuple[dt.date, dt.date]:
    # A one-year policy; a lapsed one ended before the festival opened.
    if lapsed:
        end = FESTIVAL_OPENS - dt.timedelta(days=rng.randint(1, 240))
        return end - dt.timedelta(days=364), end
    start = dt.date(2022, 2, 20) + dt.timedelta(days=rng.randint(0, 345))
    return start, start + dt.timedelta(days=364)


def generate_roster(n: int, *, seed: int = 1, teams: int | None = None) -> Roster:
    """A reproducible roster of n volunteers spread over `teams` teams (scaled to the city's ratio)."""
    if n < 0:
        raise ValueError("n must be >= 0")
    team_count = teams if teams is not None else max(1, round(n * CITY_TEAMS / CITY_VOLUNTEERS))
    if team_count < 1:
        raise ValueError("teams must be >= 1")
    rng = random.Random(seed)
    names = unit_names()
    units = [Unit(f"U{i + 1:03d}", name) for i, name in enumerate(names[: min(len(names), team_count)])]
    team_list = _make_teams(team_count, units)

    surnames = rng.choices([s for s, _ in _SURNAMES], weights=[w for _, w in _SURNAMES], k=n)
    team_picks = rng.choices(team_list, k=n)
    volunteers = []
    for i in range(n):
        rand = rng.random
        senior = rand() < SENIOR_SHARE
        birth_year = REFERENCE_YEAR - (rng.randint(65, 90) if senior else rng.randint(15, 64))
        age = REFERENCE_YEAR - birth_year
        roll = rand()
        company = None
        if senior:
            category = "senior" if roll < 0.7 else "general"
        elif age <= 24:
            category = "youth" if roll < 0.8 else "general"
        elif roll < 0.10:
            category, company = "corporate", rng.choice(_COMPANIES)
        elif roll < 0.16:
            category = "family"
        else:
            category = "general"
        insured_from, insured_to = _insurance(rng, rand() < LAPSED_SHARE)
        basic = rand() < 0.95
        volunteers.append(Volunteer(
            volunteer_id=f"V{i + 1:06d}",
            name=surnames[i] + rng.choice(_GIVEN_FIRST) + rng.choice(_GIVEN_SECOND),
            team_id=team_picks[i].team_id,
            birth_year=birth_year,
            category=category,
            company=company,
            # issuing year (民國) then a serial unique within the roster
            record_book_no=f"{rng.randint(95, 111):03d}{i + 1:07d}",
            phone=f"09{rng.randrange(100_000_000):08d}",
            insured_from=insured_from,
            insured_to=insured_to,
            training_basic=basic,
            training_special=basic and rand() < 0.4,
        ))
    return Roster(units=units, teams=team_list, volunteers=volunteers)


def roster_csv_rows(roster: Roster) -> list[list[str]]:
    """The roster as CSV rows (header first) in the import format of checkin.roster_csv."""
    team_by_id = {t.team_id: t for t in roster.teams}
    unit_name = {u.unit_id: u.name for u in roster.units}
    yes_no = ("否", "是")
    rows = [list(CSV_HEADER)]
    for v in roster.volunteers:
        team = team_by_id[v.team_id]
        rows.append([
            v.volunteer_id, v.name, team.name, unit_name[team.unit_id], str(v.birth_year),
            CATEGORY_LABELS[v.category], v.company or "", v.record_book_no, v.phone,
            v.insured_from.isoformat(), v.insured_to.isoformat(),
            yes_no[v.training_basic], yes_no[v.training_special],
        ])
    return rows


def write_roster_csv(roster: Roster, path: str | Path, encoding: str = "utf-8-sig") -> None:
    """Write the roster as an import file; encoding "cp950" gives what older office PCs save."""
    with open(path, "w", encoding=encoding, newline="") as handle:
        csv.writer(handle).writerows(roster_csv_rows(roster))
