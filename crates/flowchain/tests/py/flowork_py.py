"""Interop fixtures for the flow-chain, made with a real Ethereum library (eth-account 0.14).

  write-chain DIR KEY N [TAMPER]   write N version files the way the Python Flowork exports
                                   them; TAMPER is byte:V, sig:V or link:V (break version V)
  recover DIR                      for each Rust-exported NNNNNN.json: rebuild the signed bytes
                                   independently, recover the signer, print its address
  keystore-encrypt KEY PASS OUT    Account.encrypt (scrypt n=2**10) to OUT
  keystore-decrypt FILE PASS       Account.decrypt, print the private key hex
"""
import hashlib
import json
import os
import sys

from eth_account import Account
from eth_account.messages import encode_defunct

OTHER_KEY = "0x" + "11" * 32


def signed_text(workflow_data):
    # Exactly what the Python Flowork signs.
    return json.dumps({"workflow_data": workflow_data}, sort_keys=True, separators=(",", ":"))


def write_chain(directory, key, n, tamper=None):
    kind, _, at = (tamper or "none:0").partition(":")
    at = int(at)
    os.makedirs(directory, exist_ok=True)
    account = Account.from_key(key)
    previous = None
    for v in range(1, n + 1):
        data = {
            "name": f"flow {v}",
            "nodes": [{"id": "n1", "type": "http", "params": {"url": "https://x.test", "retries": v}},
                      {"id": "n2", "label": "caf\u00e9 \u2764 \U0001F680", "ratio": 0.1 * v, "big": 1e16,
                       "small": 1.5e-05, "on": True, "none": None}],
            "meta": {"z": 1, "a": [1, 2.5, "x"]},
        }
        signer = OTHER_KEY if (kind == "sig" and v == at) else key
        sig = Account.sign_message(encode_defunct(text=signed_text(data)), signer).signature.hex()
        link = previous
        if kind == "link" and v == at:
            link = "0" * 64
        record = {
            "version": v,
            "author_id": account.address,
            "timestamp": f"2025-01-0{v}T10:00:00",
            "previous_hash": link if v > 1 else None,
            "workflow_data": data,
            "signature": sig if v % 2 else "0x" + sig,  # both spellings occur in the wild
        }
        raw = json.dumps(record, indent=4).encode()
        if kind == "byte" and v == at:
            i = raw.index(b'"retries": ') + len(b'"retries": ')
            raw = raw[:i] + b"7" + raw[i + 1:]
        path = os.path.join(directory, f"v{v}_{1735725600 + v}.json")
        with open(path, "wb") as f:
            f.write(raw)
        previous = hashlib.sha256(raw).hexdigest()


def recover(directory):
    for name in sorted(os.listdir(directory)):
        raw = open(os.path.join(directory, name), "rb").read()
        record = json.loads(raw)
        # JCS equals this for ASCII keys, integers and BMP strings (what the Rust test writes).
        canon = lambda o: json.dumps(o, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert canon(record) == raw, f"{name} is not canonical"
        signature = record.pop("signature")
        message = canon(record)
        print(Account.recover_message(encode_defunct(primitive=message), signature=signature).lower())


def main(argv):
    cmd = argv[1]
    if cmd == "write-chain":
        write_chain(argv[2], argv[3], int(argv[4]), argv[5] if len(argv) > 5 else None)
    elif cmd == "recover":
        recover(argv[2])
    elif cmd == "keystore-encrypt":
        store = Account.encrypt(argv[2], argv[3], kdf="scrypt", iterations=2 ** 10)
        with open(argv[4], "w") as f:
            json.dump(store, f)
    elif cmd == "keystore-decrypt":
        with open(argv[2]) as f:
            print("0x" + Account.decrypt(json.load(f), argv[3]).hex().removeprefix("0x"))
    else:
        sys.exit(f"unknown command {cmd}")


if __name__ == "__main__":
    main(sys.argv)
