from checkin.cli.main import main

raise SystemExit(main())
