"""The old Node service's PostgreSQL, as its code creates it, filled for the import's
tests: users whose passwords are hashed by the `bcrypt` package (not by our code), in
the `$2b$` form and in bcryptjs's `$2a$` form; their profiles; every relationship kind;
bad rows of each kind the import must refuse; and, on request, bulk users and
relationships.

    node_fixture.py --bulk-users N --bulk-relationships M --cost C --expect FILE > fixture.sql

Prints the SQL (schema and rows) and writes what the import must make of the planted
rows to FILE (JSON): the probe accounts with their passwords and expected relations,
and the ids of the bad rows with a word their reason must hold. No password here is
anyone's: each is made up from the account's name.
"""

import argparse
import json
import random
import uuid

import bcrypt

SCHEMA = """
CREATE TABLE users (
  id uuid PRIMARY KEY, username varchar(50) UNIQUE, email varchar(255) UNIQUE, password_hash varchar(255),
  first_name varchar(100), last_name varchar(100), profile_picture varchar(500), bio text,
  date_of_birth date, is_verified bool DEFAULT false, is_active bool DEFAULT true,
  last_login timestamp, created_at timestamp, updated_at timestamp);
CREATE TABLE user_profiles (
  user_id uuid PRIMARY KEY REFERENCES users, phone varchar(20), location varchar(255), website varchar(500),
  occupation varchar(100), interests text[],
  privacy_settings jsonb DEFAULT '{"profile_visibility":"public","contact_info_visibility":"friends"}',
  notification_preferences jsonb DEFAULT '{"email_notifications":true,"push_notifications":true}',
  social_links jsonb DEFAULT '{}', updated_at timestamp);
CREATE TABLE user_relationships (
  id uuid PRIMARY KEY, follower_id uuid REFERENCES users, following_id uuid REFERENCES users,
  relationship_type varchar(20) CHECK (relationship_type IN ('follow','friend','block')) DEFAULT 'follow',
  status varchar(20) CHECK (status IN ('pending','accepted','rejected')) DEFAULT 'pending',
  created_at timestamp, updated_at timestamp, UNIQUE(follower_id, following_id));
"""


def q(value):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (dict, list)) and not isinstance(value, str):
        return "'" + json.dumps(value).replace("'", "''") + "'"
    return "'" + str(value).replace("'", "''") + "'"


class Fixture:
    def __init__(self, cost, rng):
        self.cost, self.rng = cost, rng
        self.sql, self.rejects, self.probes = [SCHEMA], {}, {}
        self.hash_cache = {}

    def password_of(self, name):
        return f"{name.lower()}-lantern-orbit-93"

    def bcrypt_hash(self, password, bcryptjs):
        hashed = bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=self.cost)).decode()
        # bcryptjs writes the same hash under $2a$.
        return hashed.replace("$2b$", "$2a$", 1) if bcryptjs else hashed

    def user(self, name, email=None, hash_=None, active=True, verified=True, profile=True, private=False, day=1,
             late=False):
        # `late`: an id above every other (the lowest id keeps a shared name).
        bits = (0xFFFF << 112) | self.rng.getrandbits(112) if late else self.rng.getrandbits(128)
        user_id = str(uuid.UUID(int=bits, version=4))
        password = self.password_of(name)
        if hash_ is None:
            hash_ = self.bcrypt_hash(password, bcryptjs=len(self.probes) % 2 == 0)
        email = email or f"{name.lower()}@example.org"
        created = f"2024-01-{day:02d} 10:00:00"
        self.sql.append(
            "INSERT INTO users VALUES ("
            + ", ".join(q(v) for v in [user_id, name, email, hash_, name.capitalize(), "Tester", f"https://img.example/{name}.png",
                                       f"I am {name}", "1990-05-17", verified, active, "2024-06-01 08:00:00", created, created])
            + ");")
        if profile:
            privacy = {"profile_visibility": "private" if private else "public", "contact_info_visibility": "friends"}
            self.sql.append(
                "INSERT INTO user_profiles VALUES ("
                + ", ".join([q(user_id), q("+1 555 0100"), q("Lisbon"), q(f"https://{name.lower()}.example"), q("engineer"),
                             "ARRAY['chess','maths']", q(privacy), q({"email_notifications": False, "push_notifications": True}),
                             q({"github": f"{name.lower()}"}), q(created)])
                + ");")
        return user_id, password

    def relationship(self, a, b, kind, status, rid=None):
        rid = rid or str(uuid.UUID(int=self.rng.getrandbits(128), version=4))
        self.sql.append(f"INSERT INTO user_relationships VALUES ({q(rid)}, {q(a)}, {q(b)}, {q(kind)}, {q(status)}, "
                        "'2024-03-01 12:00:00', '2024-03-01 12:00:00');")
        return rid


def build(args):
    rng = random.Random(args.seed)
    f = Fixture(args.cost, rng)
    probe = {}
    for name, kwargs in [("ada", {}), ("bob", {}), ("cyd", {"private": True}), ("dee", {"active": False}),
                         ("eve", {"verified": False, "profile": False}), ("fay", {})]:
        user_id, password = f.user(name, **kwargs)
        probe[name] = {"id": user_id, "password": password, **{k: v for k, v in kwargs.items()}}
    ids = {name: p["id"] for name, p in probe.items()}
    # Every kind the old service had, and what it becomes here.
    f.relationship(ids["bob"], ids["ada"], "follow", "accepted")
    f.relationship(ids["eve"], ids["ada"], "follow", "accepted")
    f.relationship(ids["ada"], ids["cyd"], "follow", "pending")          # a request
    f.relationship(ids["fay"], ids["ada"], "follow", "rejected")         # nothing
    f.relationship(ids["ada"], ids["fay"], "friend", "accepted")         # a follow each way
    f.relationship(ids["bob"], ids["cyd"], "friend", "pending")          # a request
    f.relationship(ids["ada"], ids["dee"], "block", "accepted")          # a block
    conflict = f.relationship(ids["dee"], ids["ada"], "follow", "accepted")  # blocked: refused
    f.rejects[conflict] = "blocks"
    probe["ada"].update(followers=3, following=1, requested=[ids["cyd"]], blocking=[ids["dee"]])
    probe["bob"].update(followers=0, following=1)
    probe["cyd"].update(requests_from=sorted([ids["ada"], ids["bob"]]))
    probe["fay"].update(followers=1, following=1)
    # Bad rows, one of each kind.
    taken_name, _ = f.user("ADA", email="ada.upper@example.org", late=True)
    f.rejects[taken_name] = "username collides"
    taken_mail, _ = f.user("ada_two", email="ADA@example.org", late=True)
    f.rejects[taken_mail] = "email collides"
    bad_mail, _ = f.user("gus", email="not-an-email")
    f.rejects[bad_mail] = "invalid email"
    bad_name, _ = f.user("has space")
    f.rejects[bad_name] = "invalid username"
    bad_hash, _ = f.user("hal", hash_="pbkdf2_sha256$260000$salt$digest")
    f.rejects[bad_hash] = "unknown password hash"
    orphan = f.relationship(ids["bob"], bad_mail, "follow", "accepted")
    f.rejects[orphan] = "not imported"
    # Bulk: plain valid users and relationships (the resumed run's test needs volume).
    bulk_hash = f.bcrypt_hash("bulk-lantern-orbit-93", bcryptjs=False)
    bulk = [f.user(f"bulk{i:05d}", hash_=bulk_hash, profile=i % 3 == 0)[0] for i in range(args.bulk_users)]
    pairs = set()
    while len(pairs) < min(args.bulk_relationships, len(bulk) * (len(bulk) - 1)):
        a, b = rng.sample(bulk, 2)
        pairs.add((a, b))
    for a, b in sorted(pairs):
        kind, status = rng.choice([("follow", "accepted"), ("follow", "accepted"), ("follow", "pending"),
                                   ("friend", "accepted"), ("block", "accepted"), ("follow", "rejected")])
        f.relationship(a, b, kind, status)
    return f, probe


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bulk-users", type=int, default=0)
    parser.add_argument("--bulk-relationships", type=int, default=0)
    parser.add_argument("--cost", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--expect", required=True)
    args = parser.parse_args()
    fixture, probe = build(args)
    print("\n".join(fixture.sql))
    with open(args.expect, "w") as out:
        json.dump({"probes": probe, "rejects": fixture.rejects}, out, indent=2)


if __name__ == "__main__":
    main()
