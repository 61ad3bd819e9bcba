"""What the stories of tests/ share: rendering and running projects, local stand-ins for the servers this
machine cannot reach, the Debian root's real builds."""
