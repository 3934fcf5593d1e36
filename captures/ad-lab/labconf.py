"""The AD lab's fixed names, identifiers and secrets (lab secrets made for the
purpose: they protect nothing outside the lab's own network namespace)."""

REALM = "LAB.TEST"
DOMAIN = "LAB"
DNS_DOMAIN = "lab.test"
DC_NAME = "dc1"
DC_FQDN = "dc1.lab.test"
DC_IP = "127.0.0.1"
ADMIN = "Administrator"
ADMIN_PASSWORD = "Adm1n-Lab-Pass"

# Listener the coercion scenarios name: another loopback address where nothing
# listens (the DC's connection attempt to it is in the capture).
LISTENER = "127.0.0.2"

# Fixed identifiers and passwords for `samba-tool domain provision`, so that
# every run makes the same domain (SIDs, GUIDs, the administrator's and the DC
# machine account's keys). Still random: the krbtgt keys (Samba's password_hash
# module makes its own, whatever --krbtgtpass says) and the object GUIDs of
# the other objects.
DOMAIN_SID = "S-1-5-21-1111111111-2222222222-3333333333"
DOMAIN_GUID = "11111111-2222-3333-4444-555555555555"
NTDS_GUID = "66666666-7777-8888-9999-aaaaaaaaaaaa"
INVOCATION_ID = "bbbbbbbb-cccc-dddd-eeee-ffffffffffff"
MACHINE_PASSWORD = "Dc1-Machine-Lab-Pass-0123456789"
DNS_PASSWORD = "Dns-Lab-Pass-0123456789"
