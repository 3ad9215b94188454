# SPDX-License-Identifier: MIT
# The feature modules and the commands each serves. Written by
# scripts/gen_features.py: do not edit by hand. When a line matches no
# loaded command, the console looks it up here and imports the module
# that serves it (first use, or its first line in startup-config);
# importing it registers its handlers, running-config section and hooks.
MODULES = ()
LAZY = (
    (
        'upki.cli_exec',
        (
            ('exec', 'clock set'),
            ('exec', 'copy running-config startup-config'),
            ('exec', 'debug crypto pki'),
            ('exec', 'no debug all'),
            ('exec', 'no debug crypto pki'),
            ('exec', 'reload'),
            ('exec', 'show clock'),
            ('exec', 'show debugging'),
            ('exec', 'show flash'),
            ('exec', 'show running-config'),
            ('exec', 'show startup-config'),
            ('exec', 'show version'),
            ('exec', 'undebug all'),
            ('exec', 'write'),
            ('exec', 'write memory'),
        ),
    ),
    (
        'upki.cli_keys',
        (
            ('exec', 'show crypto key mypubkey rsa'),
            ('config', 'crypto key export rsa'),
            ('config', 'crypto key generate rsa'),
            ('config', 'crypto key import rsa'),
            ('config', 'crypto key zeroize rsa'),
        ),
    ),
    (
        'upki.cli_ca',
        (
            ('config', 'crypto ca trustpoint'),
            ('config', 'crypto pki trustpoint'),
            ('config', 'no crypto ca trustpoint'),
        ),
    ),
    (
        'upki.cli_chain',
        (
            ('exec', 'show crypto ca trustpoints'),
            ('exec', 'show crypto pki trustpoints'),
            ('config', 'crypto ca certificate chain'),
            ('config', 'crypto pki certificate chain'),
        ),
    ),
    (
        'upki.cli_pubkey',
        (
            ('exec', 'show crypto key pubkey-chain rsa'),
            ('config', 'crypto key pubkey-chain rsa'),
        ),
    ),
    (
        'upki.ntp',
        (
            ('exec', 'show ntp associations'),
            ('exec', 'show ntp status'),
            ('config', 'no ntp authenticate'),
            ('config', 'no ntp authentication-key'),
            ('config', 'no ntp maxpoll'),
            ('config', 'no ntp server'),
            ('config', 'no ntp trusted-key'),
            ('config', 'ntp authenticate'),
            ('config', 'ntp authentication-key'),
            ('config', 'ntp maxpoll'),
            ('config', 'ntp server'),
            ('config', 'ntp trusted-key'),
        ),
    ),
    (
        'upki.cli_enroll',
        (
            ('exec', 'crypto ca authenticate'),
            ('exec', 'crypto ca enroll'),
            ('exec', 'crypto pki authenticate'),
            ('exec', 'crypto pki enroll'),
            ('exec', 'no crypto ca enroll'),
            ('exec', 'show crypto ca certificates'),
            ('exec', 'show crypto pki certificates'),
            ('config', 'crypto ca authenticate'),
            ('config', 'crypto ca enroll'),
            ('config', 'crypto pki authenticate'),
            ('config', 'crypto pki enroll'),
            ('config', 'no crypto ca enroll'),
        ),
    ),
    (
        'upki.revocation',
        (
            ('exec', 'crypto ca crl request'),
            ('exec', 'crypto ca verify'),
            ('exec', 'crypto pki crl request'),
            ('exec', 'crypto pki verify'),
            ('exec', 'show crypto ca crls'),
            ('exec', 'show crypto ca timers'),
            ('exec', 'show crypto pki crls'),
            ('exec', 'show crypto pki timers'),
            ('config', 'crypto ca certificate map'),
            ('config', 'crypto identity'),
            ('config', 'crypto pki certificate map'),
            ('config', 'no crypto identity'),
            ('config', 'no crypto pki certificate map'),
        ),
    ),
)
