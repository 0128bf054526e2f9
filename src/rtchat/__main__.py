from rtchat.cli import main

raise SystemExit(main())
