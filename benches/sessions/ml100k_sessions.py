"""Writes ML-100K as two session files for the session protocol (`netrex fit --csv TRAIN
--test-csv TEST`): each user's ratings in time order are one session; a seeded 20% of the
users (sessions) go to the test file, the rest to the train file. Nothing is committed: the
files go to the folder given (MovieLens' licence forbids redistribution).

    python3 benches/sessions/ml100k_sessions.py ../shared/data/ml-100k /tmp/sessions
    NETREX_DATA_DIR=../shared/data netrex fit --csv /tmp/sessions/train.csv \
        --test-csv /tmp/sessions/test.csv --model sasrec --json
"""

import csv
import os
import random
import sys


def main(source: str, out: str, seed: int = 0, test_share: float = 0.2) -> None:
    rows = []
    with open(os.path.join(source, "u.data")) as f:
        for line in f:
            user, item, _rating, ts = line.split("\t")
            rows.append((user, item, int(ts)))
    users = sorted({r[0] for r in rows}, key=int)
    random.Random(seed).shuffle(users)
    test_users = set(users[: round(len(users) * test_share)])
    os.makedirs(out, exist_ok=True)
    files = {
        name: open(os.path.join(out, f"{name}.csv"), "w", newline="")
        for name in ("train", "test")
    }
    writers = {name: csv.writer(f) for name, f in files.items()}
    for w in writers.values():
        w.writerow(["user", "item", "timestamp"])
    # rows in time order within a session; ties keep the file's order
    for user, item, ts in sorted(rows, key=lambda r: (int(r[0]), r[2])):
        writers["test" if user in test_users else "train"].writerow([user, item, ts])
    for f in files.values():
        f.close()
    print(f"{len(users) - len(test_users)} train sessions, {len(test_users)} test sessions")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
