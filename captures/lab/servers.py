"""Start every lab server on 127.0.0.1 and serve until killed.

* SMB (Impacket's SimpleSMBServer, SMB1 and SMB2 dialects) on SMB_PORT, with the
  named pipes svcctl, atsvc and srvsvc relayed to in-process DCE-RPC listeners on
  ephemeral ports (those relay connections are not captured: the scenarios'
  capture filters name only the public ports);
* the endpoint mapper on EPM_PORT;
* svcctl, ITaskSchedulerService, atsvc and srvsvc over plain TCP on TCP_PORT
  (the port ept_map hands out), and again on FRAG_PORT with a 256-byte maximum
  fragment size (the fragmentation stress scenario);
* IWbemServices on WMI_PORT.

Usage: servers.py READY_FILE   (the file is written once everything listens)
"""

import logging
import random
import sys
import threading

from impacket import smbserver

import responders as r
from rpcserver import LabListener

SMB_PORT = 445
EPM_PORT = 135
TCP_PORT = r.DYNAMIC_PORT
WMI_PORT = 49671
FRAG_PORT = 49672
FRAG_SIZE = 256


def main():
    ready_file = sys.argv[1]
    random.seed(4)  # NDR referent ids come from `random`: same bytes on every run
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s servers %(name)s %(message)s", stream=sys.stderr
    )
    listeners = [
        LabListener(EPM_PORT, [r.epm_iface()]),
        LabListener(TCP_PORT, r.tcp_ifaces(TCP_PORT)),
        LabListener(FRAG_PORT, r.tcp_ifaces(FRAG_PORT), max_frag=FRAG_SIZE),
        LabListener(WMI_PORT, [r.wbem_iface(WMI_PORT)]),
    ]
    pipes = {
        "svcctl": LabListener(0, [r.svcctl_iface()]),
        "atsvc": LabListener(0, [r.tsch_iface(), r.atsvc_iface()]),
        "srvsvc": LabListener(0, [r.srvsvc_iface()]),
    }
    for listener in listeners + list(pipes.values()):
        listener.start()

    smb = smbserver.SimpleSMBServer(listenAddress="127.0.0.1", listenPort=SMB_PORT)
    smb.setSMB2Support(True)
    smb.setSMBChallenge("")
    for name, listener in pipes.items():
        # The SMB1 create names the pipe with a leading backslash, SMB2 without.
        for key in (name, "\\" + name):
            smb.registerNamedPipe(key, ("127.0.0.1", listener.getListenPort()))
    server = threading.Thread(target=smb.start, daemon=True)
    server.start()
    with open(ready_file, "w") as f:
        f.write("ready\n")
    server.join()


if __name__ == "__main__":
    main()
