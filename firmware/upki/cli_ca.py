# SPDX-License-Identifier: MIT
# The trustpoints' part of the running configuration and their hooks: the
# section renderer, the registry's attachment to the booted router, the
# key-removal hook and the boot hook. Stays loaded once a trustpoint exists;
# the commands that configure trustpoints are in upki.cli_tp.
from upki import config, trustpoint


def _period_text(seconds):
    return "%d" % (seconds // 60) if seconds % 60 == 0 else "%ds" % seconds


def render_trustpoint(tp, lines):
    lines.append("crypto ca trustpoint " + tp.name)
    if tp.enrollment_mode_ra:
        lines.append(" enrollment mode ra")
    if tp.enrollment_url:
        lines.append(" enrollment url " + tp.enrollment_url)
    if tp.retry_period != 60:
        lines.append(" enrollment retry period " + _period_text(tp.retry_period))
    if tp.retry_count:
        lines.append(" enrollment retry count %d" % tp.retry_count)
    if tp.usage:
        lines.append(" usage " + tp.usage)
    if tp.serial_number is not None:
        lines.append(" serial-number" + ("" if tp.serial_number else " none"))
    if tp.fqdn:
        lines.append(" fqdn " + tp.fqdn)
    if tp.ip_address:
        lines.append(" ip-address " + tp.ip_address)
    if tp.password:
        lines.append(" password " + tp.password)
    if tp.subject_name:
        lines.append(" subject-name " + tp.subject_name)
    if tp.crl_query:
        lines.append(" crl query " + tp.crl_query)
    if tp.revocation != "crl":
        lines.append(" revocation-check " + tp.revocation)
    if tp.crl_mode:
        lines.append(" crl " + tp.crl_mode)
    if tp.rsakeypair:
        label, bits, enc = tp.rsakeypair
        text = " rsakeypair " + label
        if bits:
            text += " %d" % bits
            if enc:
                text += " %d" % enc
        lines.append(text)
    if tp.auto_enroll is not None:
        percent, regen = tp.auto_enroll
        text = " auto-enroll"
        if percent is not None:
            text += " %d" % percent
        if regen:
            text += " regenerate"
        lines.append(text)
    if tp.fingerprint:
        lines.append(" fingerprint " + tp.fingerprint)
    lines.append("!")



@config.section_at(config.ORDER_TRUSTPOINTS)
def _render(router, lines):
    for tp in trustpoint.all():
        render_trustpoint(tp, lines)
    for tp in trustpoint.all():
        if tp.has("ca") or tp.has("cert") or tp.has("cert-sign") or tp.has("cert-encrypt"):
            from upki.cli_chain import render_chain  # loaded only once certificates exist

            render_chain(tp, lines)


def _attach(router):
    trustpoint.attach(router)


# The registry belongs to the booted router: attach before startup-config replays.
config.on_attach(_attach)


def _drop_certs_for_key(router, label):
    # crypto key zeroize: certificates issued for the removed key go too (IOS).
    for tp in trustpoint.all():
        if tp.key_label() in (label, label.replace("-sign", ""), label.replace("-encrypt", "")):
            for kind in ("cert", "cert-sign", "cert-encrypt", "pending"):
                tp.drop(kind)


def _register_key_hook():
    from upki.keys import removal_hooks

    removal_hooks.append(_drop_certs_for_key)


_register_key_hook()


def _load_pending_pollers(router):
    # A SCEP request left PENDING before a reboot is polled by the enrollment
    # module's background task: start it when some trustpoint has one.
    # Auto-enroll finishes (or drops) a key/certificate swap a power cut
    # interrupted before anything uses the keys.
    if any(tp.auto_enroll is not None or tp.has("swap") for tp in trustpoint.all()):
        from upki import autoenroll

        autoenroll.recover(router)
    for tp in trustpoint.all():
        if tp.has("pending"):
            from upki import enroll

            enroll.watch()
            return


config.boot_hooks.append(_load_pending_pollers)


# The refresh of cached CRLs: as IOS does, a CRL in the cache is downloaded
# again when its nextUpdate comes. Only when the next one is due is kept here
# (a board time, and the back-off of CRLs whose refresh failed); the work is
# upki.crlfetch's, loaded only when a refresh is due (or to read the records'
# dates once after boot and after each fetch) and dropped after the tick.
crl_due = [None]  # board time of the next look at the CRLs; None: look now
crl_retry = {}  # record name -> [its nextUpdate, board time of the next try, back-off s]


def _crl_reset(router):
    crl_due[0] = None
    crl_retry.clear()


config.on_attach(_crl_reset)


def _refresh_crls(router):
    if router.config_sessions or not router.clock.trusted:
        return  # trusted time only; not while a trustpoint may be half configured
    now = router.clock.now()
    if crl_due[0] is not None and now < crl_due[0]:
        return
    crl_due[0] = now + 60  # the work sets the real time; a crash in it waits a minute
    if not router.nvram.names("crl"):
        crl_due[0] = now + 3600  # nothing cached (a fetch makes the next tick look)
        return
    from upki import crlfetch

    crlfetch.refresh(router)


config.background.append(_refresh_crls)
