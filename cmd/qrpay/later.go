package main

// Commands whose capability is not built yet answer honestly (none are left).
