"""The evaluation generator: a second, independent way to make filled-form photos.

Nothing is trained or tuned on it. It shares with the training generator (`samples.fill`,
`samples.photo`) only the form rendering, the values and the handwriting split; its ink
(`ink`, `hand`), paper (`paper`), scene (`scene`) and camera (`camera`, `light`) are its own.
"""

VERSION = "evalgen-1"
