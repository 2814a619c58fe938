#!/usr/bin/env python3
"""Convert the chitchat-dataset (BYU PCC lab, MIT licence) to Conclave's JSONL corpus format.

One JSON object per line: {"text": ..., "sender": ..., "time": ...}. Conversations are taken in
the order of their ids (sorted), so a limited sample is reproducible.

    pip install chitchat-dataset
    python3 data/chitchat_to_jsonl.py --out chitchat-full.jsonl            # all 258,145 messages
    python3 data/chitchat_to_jsonl.py --out data/chitchat-sample.jsonl --limit 4000
"""

import argparse
import json
import sys


def load(path):
    if path:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    try:
        import chitchat_dataset  # noqa: F401  (the package ships dataset.json next to itself)
    except ImportError:
        sys.exit("install the dataset first (pip install chitchat-dataset) or pass --dataset PATH")
    import os

    here = os.path.dirname(chitchat_dataset.__file__)
    with open(os.path.join(here, "dataset.json"), encoding="utf-8") as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", help="path to dataset.json (default: the installed package's)")
    ap.add_argument("--out", required=True, help="JSONL file to write")
    ap.add_argument("--limit", type=int, default=0, help="stop after this many messages (0: all)")
    args = ap.parse_args()

    conversations = load(args.dataset)
    written = 0
    with open(args.out, "w", encoding="utf-8") as out:
        for cid in sorted(conversations):
            for turn in conversations[cid]["messages"]:
                for m in turn:
                    text = m.get("text", "").strip()
                    if not text:
                        continue
                    line = {"text": text, "sender": m.get("sender", ""), "time": m.get("timestamp", "")}
                    out.write(json.dumps(line, ensure_ascii=False) + "\n")
                    written += 1
                    if args.limit and written >= args.limit:
                        print(f"wrote {written} messages to {args.out}")
                        return
    print(f"wrote {written} messages to {args.out}")


if __name__ == "__main__":
    main()
