"""A factory of OneRoster sets: a small school as data, written as 1.2 or 1.1, bulk or delta."""

from __future__ import annotations

import csv
import zipfile
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from stdnum.gb import upn as upn_checker


def _words(text: str) -> list[str]:
    return text.split()


ALL_FILES_1_2 = _words(
    "academicSessions categories classes classResources courses courseResources demographics "
    "enrollments lineItemLearningObjectiveIds lineItems lineItemScoreScales orgs resources "
    "resultLearningObjectiveIds results resultScoreScales roles scoreScales userProfiles "
    "userResources users"
)
ALL_FILES_1_1 = _words(
    "academicSessions categories classes classResources courses courseResources demographics "
    "enrollments lineItems orgs resources results users"
)
COLUMNS = {
    "orgs": "sourcedId,status,dateLastModified,name,type,identifier,parentSourcedId",
    "academicSessions": "sourcedId,status,dateLastModified,title,type,startDate,endDate,"
    "parentSourcedId,schoolYear",
    "courses": "sourcedId,status,dateLastModified,schoolYearSourcedId,title,courseCode,grades,"
    "orgSourcedId,subjects,subjectCodes",
    "classes": "sourcedId,status,dateLastModified,title,grades,courseSourcedId,classCode,"
    "classType,location,schoolSourcedId,termSourcedIds,subjects,subjectCodes,periods",
    "users-1.2": "sourcedId,status,dateLastModified,enabledUser,username,userIds,givenName,"
    "familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,password,"
    "userMasterIdentifier,resourceSourcedIds,preferredGivenName,preferredMiddleName,"
    "preferredFamilyName,primaryOrgSourcedId,pronouns",
    "users-1.1": "sourcedId,status,dateLastModified,enabledUser,orgSourcedIds,role,username,"
    "userIds,givenName,familyName,middleName,identifier,email,sms,phone,agentSourcedIds,grades,"
    "password",
    "roles": "sourcedId,status,dateLastModified,userSourcedId,roleType,role,beginDate,endDate,"
    "orgSourcedId,userProfileSourcedId",
    "enrollments": "sourcedId,status,dateLastModified,classSourcedId,schoolSourcedId,"
    "userSourcedId,role,primary,beginDate,endDate",
    "demographics": "sourcedId,status,dateLastModified,birthDate,sex,"
    "americanIndianOrAlaskaNative,asian,blackOrAfricanAmerican,"
    "nativeHawaiianOrOtherPacificIslander,white,demographicRaceTwoOrMoreRaces,"
    "hispanicOrLatinoEthnicity,countryOfBirthCode,stateOfBirthAbbreviation,cityOfBirth,"
    "publicSchoolResidenceStatus,metadata.uk.pupilPremium,metadata.uk.freeSchoolMeals,"
    "metadata.uk.eal,metadata.uk.senStatus",
}
ORG = "org-nfa"
GIVEN = _words(
    "Amelia Oliver Isla Noah Ava Arthur Mia Leo Freya George Lily Harry Ivy Oscar Grace Jack "
    "Sophia Charlie Ella Theo Evie Alfie Rosie Jacob Willow Freddie Poppy Henry Aisha "
    "Muhammad Zara Ibrahim Maya Yusuf Chloe Thomas Ruby Joshua Hannah Samuel"
)
FAMILY = _words(
    "Smith Jones Taylor Brown Williams Wilson Johnson Davies Patel Robinson Wright Thompson "
    "Evans Walker White Roberts Green Hall Wood Jackson Clarke Khan Hughes Edwards Lewis Hill "
    "Ahmed Harris Martin Cooper King Lee Baker Ali Turner Scott Shah Morris Begum Campbell"
)


def a_upn(serial: int) -> str:
    body = f"8012000{11:02d}{serial:03d}"
    return upn_checker.calc_check_digit(body) + body


@dataclass(frozen=True)
class Pupil:
    sid: str
    given: str
    family: str
    year: int = 10
    upn: str = ""
    sex: str = "female"
    dob: date = date(2011, 10, 1)
    pupil_premium: bool = False
    eal: bool = False
    sen: str = "N"
    preferred: str = ""
    deleted: bool = False


@dataclass(frozen=True)
class Staff:
    sid: str
    given: str
    family: str
    email: str
    role: str = "teacher"
    deleted: bool = False


@dataclass(frozen=True)
class Group:
    sid: str
    title: str
    code: str
    course: str
    subject: str
    year: int = 10
    deleted: bool = False


@dataclass(frozen=True)
class Enrol:
    sid: str
    group: str
    user: str
    role: str = "student"
    primary: bool = False
    deleted: bool = False


@dataclass
class Roster:
    pupils: list[Pupil] = field(default_factory=list)
    staff: list[Staff] = field(default_factory=list)
    groups: list[Group] = field(default_factory=list)
    enrolments: list[Enrol] = field(default_factory=list)
    #: Write orgs, sessions and courses (a delta set usually leaves them out).
    structure: bool = True
    urn: str = "137000"


COURSES = {
    "crs-ma10": ("Year 10 Mathematics", "MA10", "Mathematics"),
    "crs-en10": ("Year 10 English", "EN10", "English"),
    "crs-sc10": ("Year 10 Science", "SC10", "Science"),
}


def small_school() -> Roster:
    """1 org, a school year with 3 terms, 3 courses, 4 classes, 40 pupils, 5 teachers."""
    pupils = [
        Pupil(
            f"stu-{i:03d}",
            GIVEN[i - 1],
            FAMILY[i - 1],
            upn=a_upn(i),
            sex="female" if i % 2 else "male",
            dob=date(2011, 9 + (i % 4), 1 + i % 27),
            pupil_premium=i % 5 == 0,
            eal=i % 7 == 0,
            sen="K" if i % 9 == 0 else ("E" if i == 20 else "N"),
            preferred="Fred" if i == 26 else "",
        )
        for i in range(1, 41)
    ]
    staff = [
        Staff("tch-001", "Sarah", "Okafor", "s.okafor@northfield.example", "teacher"),
        Staff("tch-002", "David", "Hughes", "d.hughes@northfield.example", "teacher"),
        Staff("tch-003", "Priya", "Nair", "p.nair@northfield.example", "teacher"),
        Staff("tch-004", "Tom", "Fletcher", "t.fletcher@northfield.example", "teacher"),
        Staff("tch-005", "Helen", "Marsh", "h.marsh@northfield.example", "administrator"),
    ]
    groups = [
        Group("cls-10x-ma", "10X Maths", "10X/Ma1", "crs-ma10", "Mathematics"),
        Group("cls-10y-ma", "10Y Maths", "10Y/Ma1", "crs-ma10", "Mathematics"),
        Group("cls-10x-en", "10X English", "10X/En1", "crs-en10", "English"),
        Group("cls-10y-sc", "10Y Science", "10Y/Sc1", "crs-sc10", "Science"),
    ]
    enrolments = [
        Enrol("enr-t-01", "cls-10x-ma", "tch-001", "teacher", True),
        Enrol("enr-t-02", "cls-10y-ma", "tch-002", "teacher", True),
        Enrol("enr-t-03", "cls-10x-en", "tch-003", "teacher", True),
        Enrol("enr-t-04", "cls-10y-sc", "tch-004", "teacher", True),
        Enrol("enr-t-05", "cls-10y-sc", "tch-001", "teacher", False),
    ]
    for pupil in pupils:
        n = int(pupil.sid[-3:])
        form = "x" if n <= 20 else "y"
        second = "en" if form == "x" else "sc"
        enrolments.append(Enrol(f"enr-{n:03d}-ma", f"cls-10{form}-ma", pupil.sid))
        enrolments.append(Enrol(f"enr-{n:03d}-{second}", f"cls-10{form}-{second}", pupil.sid))
    return Roster(pupils, staff, groups, enrolments)


Record = dict[str, str]


def _record(sid: str, deleted: bool, delta: bool, **values: str) -> Record:
    """One CSV row by column name; bulk rows leave status and dateLastModified blank."""
    if delta:
        values |= {
            "status": "tobedeleted" if deleted else "active",
            "dateLastModified": "2026-11-20T09:00:00Z",
        }
    return {"sourcedId": sid, **values}


def _structure(roster: Roster, delta: bool) -> dict[str, list[Record]]:
    year, terms = (
        "as-2027",
        [
            ("as-2027-t1", "Autumn", "2026-09-01", "2026-12-18"),
            ("as-2027-t2", "Spring", "2027-01-04", "2027-03-26"),
            ("as-2027-t3", "Summer", "2027-04-12", "2027-07-23"),
        ],
    )
    sessions = [
        _record(
            year,
            False,
            delta,
            title="2026/27",
            type="schoolYear",
            startDate="2026-09-01",
            endDate="2027-07-23",
            schoolYear="2027",
        ),
        *[
            _record(
                sid,
                False,
                delta,
                title=title,
                type="term",
                startDate=start,
                endDate=end,
                parentSourcedId=year,
                schoolYear="2027",
            )
            for sid, title, start, end in terms
        ],
    ]
    return {
        "orgs": [
            _record(
                ORG, False, delta, name="Northfield Academy", type="school", identifier=roster.urn
            )
        ],
        "academicSessions": sessions,
        "courses": [
            _record(
                sid,
                False,
                delta,
                schoolYearSourcedId=year,
                title=title,
                courseCode=code,
                grades="10",
                orgSourcedId=ORG,
                subjects=subject,
            )
            for sid, (title, code, subject) in COURSES.items()
        ],
    }


def _users(roster: Roster, version: str, delta: bool) -> tuple[list[Record], list[Record]]:
    users: list[Record] = []
    roles: list[Record] = []
    people: list[tuple[str, bool, str, Pupil | Staff]] = [
        (p.sid, p.deleted, "student", p) for p in roster.pupils
    ]
    people += [(s.sid, s.deleted, s.role, s) for s in roster.staff]
    for sid, deleted, role, person in people:
        row = _record(
            sid,
            deleted,
            delta,
            enabledUser="true",
            givenName=person.given,
            familyName=person.family,
            identifier=sid,
        )
        if isinstance(person, Pupil):
            row |= {"username": sid, "grades": f"{person.year:02d}"}
            row |= {"userIds": f"{{UPN:{person.upn}}}"} if person.upn else {}
            row |= {"preferredGivenName": person.preferred} if version == "1.2" else {}
        else:
            row |= {"username": person.email, "email": person.email}
        if version == "1.1":
            row |= {"orgSourcedIds": ORG, "role": role.split(",")[0]}
        else:
            row["primaryOrgSourcedId"] = ORG
            roles += [
                _record(
                    f"role-{sid}" + (f"-{n}" if n else ""),
                    deleted,
                    delta,
                    userSourcedId=sid,
                    roleType="primary" if n == 0 else "secondary",
                    role=one,
                    orgSourcedId=ORG,
                )
                for n, one in enumerate(role.split(","))
            ]
        users.append(row)
    return users, roles


def _rows(roster: Roster, version: str, delta: bool) -> dict[str, list[Record]]:
    rows = _structure(roster, delta) if roster.structure else {}
    terms = "as-2027-t1,as-2027-t2,as-2027-t3"
    rows["classes"] = [
        _record(
            g.sid,
            g.deleted,
            delta,
            title=g.title,
            grades=f"{g.year:02d}",
            courseSourcedId=g.course,
            classCode=g.code,
            classType="scheduled",
            schoolSourcedId=ORG,
            termSourcedIds=terms,
            subjects=g.subject,
        )
        for g in roster.groups
    ]
    rows["users"], roles = _users(roster, version, delta)
    if version == "1.2":
        rows["roles"] = roles
    rows["enrollments"] = [
        _record(
            e.sid,
            e.deleted,
            delta,
            classSourcedId=e.group,
            schoolSourcedId=ORG,
            userSourcedId=e.user,
            role=e.role,
            primary=str(e.primary).lower(),
            beginDate="2026-09-01",
        )
        for e in roster.enrolments
    ]
    rows["demographics"] = [
        {
            **_record(p.sid, p.deleted, delta, birthDate=p.dob.isoformat(), sex=p.sex),
            "metadata.uk.pupilPremium": str(p.pupil_premium).lower(),
            "metadata.uk.freeSchoolMeals": str(p.pupil_premium).lower(),
            "metadata.uk.eal": str(p.eal).lower(),
            "metadata.uk.senStatus": p.sen,
        }
        for p in roster.pupils
    ]
    # A delta set carries only the files with changes; a bulk set carries every file.
    return {name: found for name, found in rows.items() if found or not delta}


def write_set(roster: Roster, folder: Path, *, version: str = "1.2", delta: bool = False) -> Path:
    """Write the set's CSVs and manifest into ``folder``; files a delta leaves out are absent."""
    folder.mkdir(parents=True, exist_ok=True)
    rows = _rows(roster, version, delta)
    for name, found in rows.items():
        header = COLUMNS.get(f"{name}-{version}", COLUMNS.get(name, "")).split(",")
        with (folder / f"{name}.csv").open("w", newline="", encoding="utf-8") as out:
            writer = csv.DictWriter(out, header, restval="", lineterminator="\n")
            writer.writeheader()
            writer.writerows(found)
    mode = "delta" if delta else "bulk"
    files = ALL_FILES_1_2 if version == "1.2" else ALL_FILES_1_1
    manifest = [
        ["manifest.version", "1.0"],
        ["oneroster.version", version],
        *[[f"file.{name}", mode if name in rows else "absent"] for name in files],
        ["source.systemName", "Example MIS"],
        ["source.systemCode", "example-mis"],
    ]
    with (folder / "manifest.csv").open("w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(["propertyName", "value"])
        writer.writerows(manifest)
    return folder


def zip_set(folder: Path, target: Path) -> Path:
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(folder.glob("*.csv")):
            archive.write(path, path.name)
    return target


def without(roster: Roster, *sids: str) -> Roster:
    """The roster minus the pupils, staff, groups and enrolments with these sourcedIds."""
    gone = set(sids)
    return replace(
        roster,
        pupils=[p for p in roster.pupils if p.sid not in gone],
        staff=[s for s in roster.staff if s.sid not in gone],
        groups=[g for g in roster.groups if g.sid not in gone],
        enrolments=[e for e in roster.enrolments if e.sid not in gone and e.user not in gone],
    )
