# SPDX-License-Identifier: MIT
# `crypto key ...` commands: generate, zeroize, export, import, show mypubkey.
from upki.cli import CONFIG, EXEC, Invalid, Incomplete, command, hexblock, integer
from upki.errors import PKIError

_BITS_DEFAULT = 2048


def store(router):
    from upki.keys import KeyStore

    return KeyStore(router.nvram)


def _yes(answer):
    a = answer.strip().lower()
    return bool(a) and "yes".startswith(a)


def _parse_generate(args):
    usage_keys, label, bits, exportable = False, None, None, False
    i = 0
    while i < len(args):
        w = args[i].lower()
        if "general-keys".startswith(w) and len(w) >= 2:
            usage_keys = False
        elif "usage-keys".startswith(w) and len(w) >= 2:
            usage_keys = True
        elif "label".startswith(w) and len(w) >= 2:
            if i + 1 >= len(args):
                raise Incomplete()
            label = args[i + 1]
            from upki.keys import valid_label

            if not valid_label(label):
                raise Invalid(i + 1, "Invalid key label")
            i += 1
        elif "modulus".startswith(w) and len(w) >= 1:
            bits = integer(args, i + 1, 360, 16384)
            i += 1
        elif "exportable".startswith(w) and len(w) >= 1:
            exportable = True
        else:
            raise Invalid(i)
        i += 1
    return usage_keys, label, bits, exportable


def _ask_bits(s, what):
    ans = s.ask(
        "Choose the size of the key modulus in the range of 1024 to 4096 for your\n"
        "  %s. Choosing a key modulus greater than 2048 may take\n"
        "  a few minutes.\n\nHow many bits in the modulus [%d]: " % (what, _BITS_DEFAULT),
        "",
    ).strip()
    if not ans:
        return _BITS_DEFAULT
    try:
        return int(ans)
    except ValueError:
        return -1


def ctrl_c():
    # whether Ctrl-C has been typed on the console's terminal, which is raw
    # while a command runs (cli.console); other keys typed meanwhile are
    # dropped, as IOS drops them
    import select
    import sys

    p = select.poll()
    p.register(sys.stdin, select.POLLIN)
    hit = False
    for _ in range(64):  # bounded: what a burst of typing leaves
        if not p.poll(0):
            break
        c = sys.stdin.read(1)
        if not c:
            break
        hit = hit or c == "\x03"
    return hit


def generate_pair(s, label, usage, bits, exportable):
    """Generate one key pair with IOS's progress output and store it: (stored, output)."""
    import time

    from upki import rsa
    from upki.keys import KeyPair

    router = s.router
    head = "%% Generating %d bit RSA keys, keys will be %s..." % (
        bits,
        "exportable" if exportable else "non-exportable",
    )
    emit = s.emit
    out = []
    if emit:
        emit(head)
    else:
        out.append(head)
    count = [0]

    def progress(ch):
        count[0] += 1
        if emit and (ch == "+" or count[0] % 4 == 0):
            emit(ch)

    t0 = time.ticks_ms()
    try:
        key = rsa.generate(bits, progress=progress, randbytes=router.board.urandom,
                           cancel=ctrl_c if getattr(s, "tty", False) else None)
    except (KeyboardInterrupt, rsa.KeyGenerationCancelled):
        return False, "".join(out) + "\n% Key generation aborted; no key was stored\n"
    except MemoryError:
        return False, "".join(out) + "\n% Not enough memory to generate the key; no key was stored\n"
    elapsed = time.ticks_diff(time.ticks_ms(), t0) // 1000
    pair = KeyPair(label, key, usage, exportable, int(router.clock.now()), router.clock.trusted)
    store(router).save(pair)
    done = "[OK] (elapsed time was %d seconds)\n" % elapsed
    if emit:
        emit(done)
        return True, ""
    out.append(done)
    return True, "".join(out)


@command(CONFIG, "crypto key generate rsa")
def _generate(s, args):
    from upki.rsa import MAX_BITS, MIN_BITS

    usage_keys, label, bits, exportable = _parse_generate(args)
    router = s.router
    if label is None:
        if not router.domain:
            return "% Please define a domain-name first.\n"
        label = router.fqdn()
    if bits is not None and not MIN_BITS <= bits <= MAX_BITS:
        return "%% Key modulus of %d bits refused: choose %d to %d bits\n" % (bits, MIN_BITS, MAX_BITS)
    ks = store(router)
    labels = [label + "-sign", label + "-encrypt"] if usage_keys else [label]
    out = []
    existing = [lb for lb in labels if ks.exists(lb)]
    if existing:
        ans = s.ask(
            "%% You already have RSA keys defined named %s.\n"
            "%% Do you really want to replace them? [yes/no]: " % ", ".join(existing),
            "no",
        )
        if not _yes(ans):
            return ""
    out.append("The name for the keys will be: %s\n" % label)
    plan = []
    if usage_keys:
        sign_bits = bits or _ask_bits(s, "Signature Keys")
        enc_bits = bits or _ask_bits(s, "Encryption Keys")
        plan = [(labels[0], "signature", sign_bits), (labels[1], "encryption", enc_bits)]
    else:
        plan = [(label, "general", bits or _ask_bits(s, "General Purpose Keys"))]
    for _lb, _u, b in plan:
        if not MIN_BITS <= b <= MAX_BITS:
            return "".join(out) + "%% Key modulus of %d bits refused: choose %d to %d bits\n" % (
                b,
                MIN_BITS,
                MAX_BITS,
            )
    if s.emit:
        s.emit("".join(out))
        out = []
    for lb, usage, b in plan:
        stored, res = generate_pair(s, lb, usage, b, exportable)
        out.append(res)
        if not stored:
            break
    return "".join(out)


@command(CONFIG, "crypto key zeroize rsa")
def _zeroize(s, args):
    args.only(1)
    ks = store(s.router)
    if args:
        label = args[0]
        if not ks.exists(label):
            return "%% RSA keypair %s does not exist\n" % label
        labels = [label]
        warn = "%% Keys to be removed are named %s.\n" % label
    else:
        labels = ks.labels()
        if not labels:
            return "% No Signature RSA Keys found in configuration.\n"
        warn = "% All RSA keys will be removed.\n"
    ans = s.ask(
        warn + "% All router certs issued using these keys will also be removed.\n"
        "Do you really want to remove these keys? [yes/no]: ",
        "no",
    )
    if not _yes(ans):
        return ""
    from upki.keys import removal_hooks

    for label in labels:
        _wipe(s.router, label)
        for hook in removal_hooks:
            hook(s.router, label)
    return ""


def _wipe(router, label):
    # Overwrite the record's bytes before removing it. littlefs writes copies
    # elsewhere (copy-on-write), so this is best effort; docs/SECURITY.md says so.
    nv = router.nvram
    path = nv.path("rsa/" + label)
    try:
        import os

        size = os.stat(path)[6]
        with open(path, "r+b") as f:
            zero = bytes(256)
            left = size
            while left > 0:
                f.write(zero[: min(left, 256)])
                left -= 256
    except OSError:
        pass
    nv.delete("rsa/" + label)


@command(EXEC, "show crypto key mypubkey rsa")
def _show_mypubkey(s, args):
    from upki.clock import format_date
    from upki.keys import USAGE_NAMES

    args.only(1)
    ks = store(s.router)
    labels = ks.labels()
    if args:
        labels = [lb for lb in labels if lb == args[0]]
    out = []
    for label in labels:
        try:
            pair = ks.load(label)
        except PKIError as e:
            out.append("%% Key name: %s: %s\n" % (label, e))
            continue
        when = format_date(pair.generated) if pair.generated else "unknown time"
        out.append("%% Key pair was generated at: %s%s\n" % (when, "" if pair.trusted else " (clock not authoritative)"))
        out.append("Key name: %s\n" % label)
        out.append(" Usage: %s\n" % USAGE_NAMES.get(pair.usage, pair.usage))
        out.append(" Key is %sexportable.\n" % ("" if pair.exportable else "not "))
        out.append(" Key Data:\n")
        out.append("\n".join(hexblock(pair.public_key().to_spki_der())) + "\n")
    return "".join(out)


@command(CONFIG, "crypto key export rsa")
def _export(s, args):
    # crypto key export rsa NAME pem [terminal]
    from upki.keys import USAGE_NAMES

    args.need(2)
    if not "pem".startswith(args[1].lower()):
        raise Invalid(1)
    if len(args) > 2 and not "terminal".startswith(args[2].lower()):
        raise Invalid(2)
    args.only(3)
    ks = store(s.router)
    if not ks.exists(args[0]):
        return "%% RSA keypair %s does not exist\n" % args[0]
    pair = ks.load(args[0])
    if not pair.exportable:
        return "%% RSA keypair %s is not exportable.\n" % args[0]
    return "%% Key name: %s\n   Usage: %s\nKey data:\n%s%s" % (
        pair.label,
        USAGE_NAMES.get(pair.usage, pair.usage),
        pair.public_key().to_pem(),
        pair.key.to_pem(pkcs8=True),
    )


@command(CONFIG, "crypto key import rsa")
def _import(s, args):
    # crypto key import rsa NAME pem [exportable] [terminal]; the PEM follows, ended by "quit"
    from upki import rsa
    from upki.keys import KeyPair, valid_label

    args.need(2)
    label = args[0]
    if not valid_label(label):
        raise Invalid(0, "Invalid key label")
    if not "pem".startswith(args[1].lower()):
        raise Invalid(1)
    exportable = False
    for i in range(2, len(args)):
        w = args[i].lower()
        if "exportable".startswith(w):
            exportable = True
        elif not "terminal".startswith(w):
            raise Invalid(i)
    ks = store(s.router)
    if ks.exists(label):
        ans = s.ask(
            "%% You already have RSA keys defined named %s.\n"
            "%% Do you really want to replace them? [yes/no]: " % label,
            "no",
        )
        if not _yes(ans):
            return ""
    if s.emit:
        s.emit('% Enter PEM-formatted private General Purpose key.\n% End with "quit" on a line by itself.\n')
    lines = []
    for _ in range(200):  # bounded: a 4096-bit PKCS#8 key is about 55 lines
        line = s.ask("", "quit")
        if line.strip().lower() == "quit":
            break
        lines.append(line.strip())
    else:
        return "% Import aborted: no \"quit\" line within 200 lines\n"
    try:
        key = rsa.PrivateKey.from_pem("\n".join(lines))
        key.check()
    except (PKIError, ValueError) as e:
        return "%% Import of RSA keypair %s failed: %s; nothing was stored\n" % (label, e)
    pair = KeyPair(label, key, "general", exportable, int(s.router.clock.now()), s.router.clock.trusted)
    ks.save(pair)
    return "%% Key pair %s imported (%d bits)\n" % (label, key.public_key().bits)
