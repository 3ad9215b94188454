# SPDX-License-Identifier: MIT
# The feature modules and the commands each serves. Written by
# scripts/gen_features.py: do not edit by hand. When a line matches no
# loaded command, the console looks it up here and imports the module
# that serves it (first use, or its first line in startup-config);
# importing it registers its handlers, running-config section and hooks.
# Each table is a few strings, not tuples of tuples: it stays in the heap
# for as long as the board runs, and a string costs one object.
MODULES = ()
# (module, 'MODE WORDS|MODE WORDS|...')
LAZY = (
    (
        'upki.cli_exec',
        'exec clock set|'
        'exec copy running-config startup-config|'
        'exec debug crypto pki|'
        'exec no debug all|'
        'exec no debug crypto pki|'
        'exec reload|'
        'exec show clock|'
        'exec show debugging|'
        'exec show flash|'
        'exec show running-config|'
        'exec show startup-config|'
        'exec show version|'
        'exec undebug all|'
        'exec write|'
        'exec write memory'
    ),
    (
        'upki.cli_keys',
        'exec show crypto key mypubkey rsa|'
        'config crypto key export rsa|'
        'config crypto key generate rsa|'
        'config crypto key import rsa|'
        'config crypto key zeroize rsa'
    ),
    (
        'upki.cli_tp',
        'config crypto ca trustpoint|'
        'config crypto pki trustpoint|'
        'config no crypto ca trustpoint'
    ),
    (
        'upki.cli_chain',
        'exec show crypto ca certificates|'
        'exec show crypto ca trustpoints|'
        'exec show crypto pki certificates|'
        'exec show crypto pki trustpoints|'
        'config crypto ca certificate chain|'
        'config crypto pki certificate chain'
    ),
    (
        'upki.cli_pubkey',
        'exec show crypto key pubkey-chain rsa|'
        'config crypto key pubkey-chain rsa'
    ),
    (
        'upki.cli_ntp',
        'exec show ntp associations|'
        'exec show ntp status|'
        'config no ntp authenticate|'
        'config no ntp authentication-key|'
        'config no ntp maxpoll|'
        'config no ntp server|'
        'config no ntp trusted-key|'
        'config ntp authenticate|'
        'config ntp authentication-key|'
        'config ntp maxpoll|'
        'config ntp server|'
        'config ntp trusted-key'
    ),
    (
        'upki.cli_enroll',
        'exec crypto ca authenticate|'
        'exec crypto ca enroll|'
        'exec crypto pki authenticate|'
        'exec crypto pki enroll|'
        'exec no crypto ca enroll|'
        'config crypto ca authenticate|'
        'config crypto ca enroll|'
        'config crypto pki authenticate|'
        'config crypto pki enroll|'
        'config no crypto ca enroll'
    ),
    (
        'upki.revocation',
        'exec crypto ca crl request|'
        'exec crypto ca verify|'
        'exec crypto pki crl request|'
        'exec crypto pki verify|'
        'exec show crypto ca crls|'
        'exec show crypto ca timers|'
        'exec show crypto pki crls|'
        'exec show crypto pki timers|'
        'config crypto ca certificate map|'
        'config crypto identity|'
        'config crypto pki certificate map|'
        'config no crypto identity|'
        'config no crypto pki certificate map'
    ),
)
# The modules a console command may drop again once it is done (upki.cli._drop).
TRANSIENT = (
    'upki.autoenroll_work '
    'upki.cipher '
    'upki.cli_chain '
    'upki.cli_enroll '
    'upki.cli_exec '
    'upki.cli_keys '
    'upki.cli_ntp '
    'upki.cli_tp '
    'upki.cmac '
    'upki.cms '
    'upki.cmsbase '
    'upki.cmsenv '
    'upki.cmsread '
    'upki.cmswrite '
    'upki.crl '
    'upki.crlfetch '
    'upki.csr '
    'upki.der '
    'upki.derwrite '
    'upki.des '
    'upki.digest '
    'upki.enroll '
    'upki.enrollca '
    'upki.enrollpoll '
    'upki.http '
    'upki.ldap '
    'upki.net '
    'upki.oid '
    'upki.primes '
    'upki.rsa '
    'upki.rsacodec '
    'upki.scep '
    'upki.scepca '
    'upki.sceprep '
    'upki.scepreq '
    'upki.sha512 '
    'upki.sntp '
    'upki.validate '
    'upki.x509 '
)
# MODULE>TRANSIENT MODULES IT IMPORTS AT MODULE LEVEL;...: what stays with
# a module that stays.
DEPS = (
    'upki.cli_enroll>upki.enroll upki.scep;'
    'upki.cms>upki.cmsbase upki.cmsread upki.der upki.digest;'
    'upki.cmsenv>upki.cmsbase upki.cmsread upki.der;'
    'upki.cmsread>upki.der;'
    'upki.cmswrite>upki.cmsbase upki.der upki.digest;'
    'upki.crl>upki.der;'
    'upki.csr>upki.derwrite upki.oid;'
    'upki.enroll>upki.scep;'
    'upki.enrollca>upki.enroll upki.scepca;'
    'upki.enrollpoll>upki.enroll upki.scep;'
    'upki.http>upki.net;'
    'upki.rsa>upki.digest;'
    'upki.rsacodec>upki.der;'
    'upki.scep>upki.der;'
    'upki.scepca>upki.der;'
    'upki.sceprep>upki.der upki.scep;'
    'upki.scepreq>upki.der upki.scep;'
    'upki.x509>upki.der upki.oid'
)
