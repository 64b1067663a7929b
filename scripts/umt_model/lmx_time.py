"""How long an LMX event lasts: its duration tokens as they are read (the training targets that
need score time, umt_model/targets.py's LmxEvents and guide.py's reading places, share this)."""
import re

QUARTERS = {"maxima": 32.0, "long": 16.0, "breve": 8.0, "whole": 4.0, "half": 2.0, "quarter": 1.0}
QUARTERS.update({t: 0.5 ** (k + 1) for k, t in enumerate(
    ["eighth", "16th", "32nd", "64th", "128th", "256th", "512th", "1024th"])})
TUPLET = re.compile(r"([0-9]+)in([0-9]+)")


class Duration:
    """The duration of the event being read (type, dots, tuplet ratio) and the running time
    signature's measure length, in quarters; start() at each new event."""

    def __init__(self):
        self.measure_len, self.beats = 4.0, None
        self.start()

    def start(self):
        self.base, self.dots, self.scale = 0.0, 0, 1.0

    def quarters(self):
        return self.base * (2 - 0.5 ** self.dots) * self.scale

    def read(self, name):
        """Takes a duration or time-signature token; False for any other token."""
        if name in QUARTERS:
            self.base = QUARTERS[name]
        elif name == "rest:measure":
            self.base = self.measure_len
        elif name == "dot":
            self.dots += 1
        elif name.startswith("beats:"):
            self.beats = int(name[6:])
        elif name.startswith("beat-type:") and self.beats:
            self.measure_len = self.beats * 4.0 / int(name[10:])
        else:
            m = TUPLET.fullmatch(name)
            if not m:
                return False
            self.scale = int(m.group(2)) / int(m.group(1))
        return True
