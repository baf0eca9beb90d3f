from voicesmith.cli import main

main()
