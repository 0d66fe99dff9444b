"""Companion as an OpenVoiceOS skill (`pip install 'companion[ovos]'`).

The skill class is in skill.py, the only module here that imports ovos_workshop; the rest of the
package (the practice's spoken schedule, the reflection's answer words) is plain Python, so the
plain install never imports OpenVoiceOS.
"""
